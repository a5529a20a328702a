// Softmax and log-softmax along a dim. Both save only their output y; the backwards are
// row formulas in core (softmax_backward / log_softmax_backward), not compositions.
#include "autograd/functions.h"
#include "core/functional.h"

namespace fwp {

namespace {

// y = softmax(x):       dx = y * (g - sum_dim(g * y))
// y = log_softmax(x):   dx = g - exp(y) * sum_dim(g)
struct SoftmaxOp : Op {
  Tensor y;
  int64_t dim = -1;
  bool log = false;
  const char* name() const override { return log ? "log_softmax" : "softmax"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {log ? log_softmax_backward(g[0], y, dim) : softmax_backward(g[0], y, dim)};
  }
};

Variable softmax_like(const Variable& a, int64_t dim, bool log) {
  Tensor y = log ? log_softmax(a.value(), dim) : softmax(a.value(), dim);  // validates dim
  auto op = std::make_shared<SoftmaxOp>();
  op->dim = dim;
  op->log = log;
  if (any_requires_grad({a})) op->y = y;
  return record(op, {a}, y);
}

}  // namespace

Variable softmax(const Variable& a, int64_t dim) { return softmax_like(a, dim, false); }
Variable log_softmax(const Variable& a, int64_t dim) { return softmax_like(a, dim, true); }

}  // namespace fwp
