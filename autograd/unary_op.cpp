// Pointwise nonlinearities y = f(x): each gradient is the upstream gradient times f'(x), which
// core computes from x or y (whichever the formula needs; only that one is saved).
#include "autograd/functions.h"
#include "core/functional.h"

namespace fwp {

namespace {

struct PointwiseOp : Op {
  Tensor x, y;  // only what backward reads is kept
};

// y = exp(x):      dx = g * y
struct ExpOp : PointwiseOp {
  const char* name() const override { return "exp"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {exp_backward(g[0], y)};
  }
};

// y = log(x):      dx = g / x
struct LogOp : PointwiseOp {
  const char* name() const override { return "log"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {log_backward(g[0], x)};
  }
};

// y = sqrt(x):     dx = g / (2 y)
struct SqrtOp : PointwiseOp {
  const char* name() const override { return "sqrt"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {sqrt_backward(g[0], y)};
  }
};

// y = tanh(x):     dx = g * (1 - y^2)
struct TanhOp : PointwiseOp {
  const char* name() const override { return "tanh"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {tanh_backward(g[0], y)};
  }
};

// y = 1 / (1 + exp(-x)):   dx = g * y * (1 - y)
struct SigmoidOp : PointwiseOp {
  const char* name() const override { return "sigmoid"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {sigmoid_backward(g[0], y)};
  }
};

// y = max(x, 0):   dx = g * [x > 0]
struct ReluOp : PointwiseOp {
  const char* name() const override { return "relu"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {relu_backward(g[0], x)};
  }
};

// y = x > 0 ? x : alpha (exp(x) - 1):   dx = g * (x > 0 ? 1 : y + alpha)
struct EluOp : PointwiseOp {
  double alpha = 1.0;
  const char* name() const override { return "elu"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {elu_backward(g[0], x, y, alpha)};
  }
};

// y = x^2:         dx = 2 x g
struct SquareOp : PointwiseOp {
  const char* name() const override { return "square"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {square_backward(g[0], x)};
  }
};

// Records `op` for y = f(a.value()), saving the input and/or output for its backward.
Variable pointwise(std::shared_ptr<PointwiseOp> op, const Variable& a, Tensor y, bool save_x,
                   bool save_y) {
  if (any_requires_grad({a})) {
    if (save_x) op->x = a.value();
    if (save_y) op->y = y;
  }
  return record(op, {a}, std::move(y));
}

}  // namespace

Variable exp(const Variable& a) {
  return pointwise(std::make_shared<ExpOp>(), a, exp(a.value()), false, true);
}
Variable log(const Variable& a) {
  return pointwise(std::make_shared<LogOp>(), a, log(a.value()), true, false);
}
Variable sqrt(const Variable& a) {
  return pointwise(std::make_shared<SqrtOp>(), a, sqrt(a.value()), false, true);
}
Variable tanh(const Variable& a) {
  return pointwise(std::make_shared<TanhOp>(), a, tanh(a.value()), false, true);
}
Variable sigmoid(const Variable& a) {
  return pointwise(std::make_shared<SigmoidOp>(), a, sigmoid(a.value()), false, true);
}
Variable relu(const Variable& a) {
  return pointwise(std::make_shared<ReluOp>(), a, relu(a.value()), true, false);
}
Variable elu(const Variable& a, double alpha) {
  auto op = std::make_shared<EluOp>();
  op->alpha = alpha;
  return pointwise(op, a, elu(a.value(), alpha), true, true);
}
Variable square(const Variable& a) {
  return pointwise(std::make_shared<SquareOp>(), a, square(a.value()), true, false);
}

}  // namespace fwp
