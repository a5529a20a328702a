// Matrix products. With op(X) = X or X^T and c = op(a) @ op(b), the gradients are
//   d op(a) = g @ op(b)^T        d op(b) = op(a)^T @ g
// and un-transposing those gives the four cases below. When one operand is a shared 2-D matrix
// and the other is batched, its gradient also sums over the batch (sum_to).
#include "autograd/functions.h"
#include "core/functional.h"

namespace fwp {

namespace {

// Sums a batched (..., R, C) gradient down to a 2-D (R, C) operand when needed.
Tensor reduce_batch(const Tensor& g, const Shape& target) {
  if (g.shape() == target) return g;
  return sum_to(g, target);
}

struct MatmulOp : Op {
  Tensor a, b;
  bool trans_a = false, trans_b = false;
  const char* name() const override { return "matmul"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& grads, const std::vector<bool>& need) override {
    const Tensor& g = grads[0];  // (..., M, N)
    Tensor da, db;
    if (need[0]) {
      // !trans_a: da = g @ op(b)^T          trans_a: da = op(b) @ g^T
      da = trans_a ? matmul(b, g, trans_b, true) : matmul(g, b, false, !trans_b);
      da = reduce_batch(da, a.shape());
    }
    if (need[1]) {
      if (b.dim() == 2 && a.dim() > 2 && !trans_a) {
        // shared weight: fold the batch into rows, one gemm:  db = a_flat^T g_flat (or its T)
        Tensor a2 = a.reshape({-1, a.size(-1)}), g2 = g.reshape({-1, g.size(-1)});
        db = trans_b ? matmul(g2, a2, true, false) : matmul(a2, g2, true, false);
      } else {
        // !trans_b: db = op(a)^T @ g        trans_b: db = g^T @ op(a)
        db = trans_b ? matmul(g, a, true, trans_a) : matmul(a, g, !trans_a, false);
        db = reduce_batch(db, b.shape());
      }
    }
    return {da, db};
  }
};

}  // namespace

Variable matmul(const Variable& a, const Variable& b, bool trans_a, bool trans_b) {
  auto op = std::make_shared<MatmulOp>();
  Tensor c = matmul(a.value(), b.value(), trans_a, trans_b);
  if (any_requires_grad({a, b})) {
    op->a = a.value();
    op->b = b.value();
  }
  op->trans_a = trans_a;
  op->trans_b = trans_b;
  return record(op, {a, b}, c);
}

}  // namespace fwp
