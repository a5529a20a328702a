// Broadcasting arithmetic. Every input gradient ends in sum_to(., input shape): broadcasting
// copies an operand along some dims, so its gradient sums over those dims.
#include "autograd/functions.h"
#include "core/functional.h"

namespace fwp {

namespace {

// c = a + b:  da = sum_to(g, a),  db = sum_to(g, b)
// c = a - b:  da = sum_to(g, a),  db = -sum_to(g, b)
struct AddSubOp : Op {
  Shape a_shape, b_shape;
  bool subtract = false;
  const char* name() const override { return subtract ? "sub" : "add"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>& need) override {
    Tensor da, db;
    if (need[0]) da = sum_to(g[0], a_shape);
    if (need[1]) db = subtract ? neg(sum_to(g[0], b_shape)) : sum_to(g[0], b_shape);
    return {da, db};
  }
};

// c = a * b:  da = sum_to(g * b, a),  db = sum_to(g * a, b)
struct MulOp : Op {
  Tensor a, b;
  const char* name() const override { return "mul"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>& need) override {
    Tensor da, db;
    if (need[0]) da = sum_to(mul(g[0], b), a.shape());
    if (need[1]) db = sum_to(mul(g[0], a), b.shape());
    return {da, db};
  }
};

// c = a / b:  da = sum_to(g / b, a),  db = sum_to(-g * c / b, b)
struct DivOp : Op {
  Tensor a, b, c;
  const char* name() const override { return "div"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>& need) override {
    Tensor da, db;
    Tensor g_over_b = div(g[0], b);
    if (need[0]) da = sum_to(g_over_b, a.shape());
    if (need[1]) db = sum_to(neg(mul(g_over_b, c)), b.shape());
    return {da, db};
  }
};

// c = a * s + t (scalar s, t):  da = s * g
struct AffineScalarOp : Op {
  double s = 1.0;
  const char* name() const override { return "scalar_affine"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {s == 1.0 ? g[0] : mul(g[0], s)};
  }
};

Variable add_or_sub(const Variable& a, const Variable& b, bool subtract) {
  auto op = std::make_shared<AddSubOp>();
  op->a_shape = a.shape();
  op->b_shape = b.shape();
  op->subtract = subtract;
  Tensor c = subtract ? sub(a.value(), b.value()) : add(a.value(), b.value());
  return record(op, {a, b}, c);
}

Variable affine_scalar(const Variable& a, double s, double t) {
  auto op = std::make_shared<AffineScalarOp>();
  op->s = s;
  Tensor c = s == 1.0 ? add(a.value(), t) : (t == 0.0 ? mul(a.value(), s) : add(mul(a.value(), s), t));
  return record(op, {a}, c);
}

}  // namespace

Variable add(const Variable& a, const Variable& b) { return add_or_sub(a, b, false); }
Variable sub(const Variable& a, const Variable& b) { return add_or_sub(a, b, true); }

Variable mul(const Variable& a, const Variable& b) {
  auto op = std::make_shared<MulOp>();
  Tensor c = mul(a.value(), b.value());
  if (any_requires_grad({a, b})) {
    op->a = a.value();
    op->b = b.value();
  }
  return record(op, {a, b}, c);
}

Variable div(const Variable& a, const Variable& b) {
  auto op = std::make_shared<DivOp>();
  Tensor c = div(a.value(), b.value());
  if (any_requires_grad({a, b})) {
    op->a = a.value();
    op->b = b.value();
    op->c = c;
  }
  return record(op, {a, b}, c);
}

Variable add(const Variable& a, double s) { return affine_scalar(a, 1.0, s); }
Variable mul(const Variable& a, double s) { return affine_scalar(a, s, 0.0); }
Variable neg(const Variable& a) { return affine_scalar(a, -1.0, 0.0); }

}  // namespace fwp
