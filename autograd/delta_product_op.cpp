// The DeltaProduct op: argument checks, one kernel call forward and one backward (plain loops on
// the CPU, the delta rule's kernels on the GPU: kernels/delta_product.h), then the composed
// reference.
//
// The backward, derived one line of the forward at a time. Write s (the j-th of token t, row
// s = t n + j of k, v, beta), with W = W_{s-1} the state before it:
//   (1) p = W k_s    (2) d = v_s - p    (3) u = beta_s d    (4) W_s = W + u k_s^T
// and after the last write of token t the read (5) y_t = W_t q_t.
// Going backwards with A = dL/dW_s (dL/dW_T at the end, zero if W_T is unused) and g = dL/dy_t:
//   (5)  A += g q_t^T  at the end of token t;  dq_t = W_t^T g
//   (4)  a := dL/du = A k_s;   dk_s += A^T u;   dL/dW = A (the identity part of W_s = W + ..)
//   (3)  dbeta_s = a . d;      dL/dd = beta_s a
//   (2)  dv_s = beta_s a;      dL/dp = -beta_s a
//   (1)  dL/dW -= beta_s a k_s^T;   dk_s -= beta_s W^T a
// Collected:  dL/dW_{s-1} = A - beta_s a k_s^T     dv_s = beta_s a     dbeta_s = a . d_s
//             dk_s = A^T u_s - beta_s W_{s-1}^T a   dq_t = W_t^T g_t    dW0 = dL/dW_0
// These are the delta rule's formulas (autograd/fast_weight_op.cpp) for every write; only the read
// comes every n-th write instead of after each. With n = 1 the op IS the delta rule, which the
// tests check. Every term needs W_{s-1} (and W_t for dq), which the reverse sweep rebuilds by
// subtracting the write it has just undone: W_{s-1} = W_s - u_s k_s^T with the saved d_s. Like
// the delta rule's, this rebuild carries the forward's rounding errors backwards (in f32 the
// gradients drift with T n; docs/THEORY.md section 7.2 measures the delta rule's).
#include "autograd/delta_product_op.h"

#include "autograd/fast_weight_op.h"
#include "autograd/fast_weight_util.h"
#include "autograd/functions.h"
#include "autograd/tape.h"
#include "core/device_dispatch.h"
#include "core/functional.h"
#include "kernels/delta_product.h"

namespace fwp {

using namespace fast_weight_detail;

namespace {

struct DeltaProductDims {
  int64_t B, H, T, n, Dk, Dv;
};

// The write part (k, v, beta, W0) checked as a delta rule over T n steps, then n and q.
DeltaProductDims check_delta_product_args(const char* op, const Variable& q, const Variable& k,
                                          const Variable& v, const Variable& beta, int64_t n,
                                          const Variable& W0) {
  FWP_CHECK(k.defined() && v.defined() && beta.defined(), op, ": k, v and beta must be defined");
  FWP_CHECK(n >= 1, op, ": n_h (writes per token) must be >= 1, got ", n);
  const FastWeightDims w = check_fast_weight_args(op, k, k, v, beta, W0, {}, true);
  FWP_CHECK_SHAPE(w.T % n == 0, op, ": k must be (B, H, T * n_h, Ddot) with n_h = ", n,
                  " writes per token, got k=", k.shape());
  const DeltaProductDims d{w.B, w.H, w.T / n, n, w.Dk, w.Dv};
  if (q.defined()) {
    FWP_CHECK_SHAPE(q.shape() == Shape({d.B, d.H, d.T, d.Dk}), op,
                    ": q must be (B, H, T, Ddot) = ", Shape({d.B, d.H, d.T, d.Dk}), " for k=",
                    k.shape(), " and n_h = ", n, ", got q=", q.shape());
    check_same_type(op, "k", k.value(), "q", q.value());
  }
  return d;
}

// Gradients as in the comment at the top of this file. Saves handles to q, k, beta, W_T and d_s
// = v_s - W_{s-1} k_s (B H T n Dv), never a state per step.
struct DeltaProductOp : Op {
  Tensor q, k, beta, d, WT;  // q undefined when nothing is read
  DeltaProductDims dims{};
  bool has_q = false, has_W0 = false;
  const char* name() const override { return "delta_product"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g,
                               const std::vector<bool>& need) override {
    const auto [B, H, T, n, Dk, Dv] = dims;
    const DType dt = k.dtype();
    const Device dev = k.device();  // the kernels run there (FWP_FUSED_KERNEL)
    Tensor grad_y = has_q ? unless_zero(g[0]) : Tensor();
    Tensor grad_WT = unless_zero(g[has_q ? 1 : 0]);
    Tensor dq = has_q ? Tensor::empty(q.shape(), dt, dev) : Tensor();
    Tensor dk = Tensor::empty(k.shape(), dt, dev), dv = Tensor::empty({B, H, T * n, Dv}, dt, dev);
    Tensor dbeta = Tensor::empty(beta.shape(), dt, dev);
    Tensor dW0 = has_W0 ? Tensor::empty({B, H, Dv, Dk}, dt, dev) : Tensor();
    dispatch_dtype(dt, [&](auto tag) {
      using Real = decltype(tag);
      FWP_FUSED_KERNEL(dev, delta_product_backward, Real)(
          ptr_or_null<Real>(dq), dk.data<Real>(), dv.data<Real>(), dbeta.data<Real>(),
          ptr_or_null<Real>(dW0), ptr_or_null<Real>(grad_y), ptr_or_null<Real>(grad_WT),
          ptr_or_null<Real>(q), k.data<Real>(), beta.data<Real>(), d.data<Real>(),
          WT.data<Real>(), B * H, T, n, Dk, Dv);
    });
    return gradients_in_input_order(has_q, dq, {dk, dv, dbeta}, has_W0, dW0, need);
  }
};

}  // namespace

DeltaProductResult delta_product(const Variable& q, const Variable& k, const Variable& v,
                                 const Variable& beta, int64_t n_h, const Variable& W0) {
  const DeltaProductDims dims = check_delta_product_args("delta_product", q, k, v, beta, n_h, W0);
  const auto [B, H, T, n, Dk, Dv] = dims;
  std::vector<Variable> inputs;
  if (q.defined()) inputs.push_back(q);
  for (const Variable& x : {k, v, beta}) inputs.push_back(x);
  if (W0.defined()) inputs.push_back(W0);
  const bool grad = any_requires_grad(inputs);
  const DType dt = k.dtype();
  const Device dev = k.value().device();  // the kernels run there (FWP_FUSED_KERNEL)
  Tensor y = q.defined() ? Tensor::empty({B, H, T, Dv}, dt, dev) : Tensor();
  Tensor WT = Tensor::empty({B, H, Dv, Dk}, dt, dev);
  Tensor d = grad ? Tensor::empty({B, H, T * n, Dv}, dt, dev) : Tensor();
  Tensor qt = value_or_undefined(q), W0t = value_or_undefined(W0);
  dispatch_dtype(dt, [&](auto tag) {
    using Real = decltype(tag);
    FWP_FUSED_KERNEL(dev, delta_product_forward, Real)(
        ptr_or_null<Real>(y), WT.data<Real>(), ptr_or_null<Real>(d), ptr_or_null<Real>(qt),
        k.value().data<Real>(), v.value().data<Real>(), beta.value().data<Real>(),
        ptr_or_null<Real>(W0t), B * H, T, n, Dk, Dv);
  });
  auto op = std::make_shared<DeltaProductOp>();
  if (grad) {
    op->q = qt;
    op->k = k.value();
    op->beta = beta.value();
    op->d = d;
    op->WT = WT;
  }
  op->dims = dims;
  op->has_q = q.defined();
  op->has_W0 = W0.defined();
  const auto [y_out, state] = record_read_and_state(op, inputs, y, WT, q.defined());
  return {y_out, state};
}

// The paper's recurrence written literally, one write at a time: the plain statement of the math
// that the fused op is tested against. Keeps a few (B, H, Dv, Ddot) tensors per write on the tape.
DeltaProductResult delta_product_reference(const Variable& q, const Variable& k,
                                           const Variable& v, const Variable& beta, int64_t n_h,
                                           const Variable& W0) {
  const DeltaProductDims d =
      check_delta_product_args("delta_product_reference", q, k, v, beta, n_h, W0);
  Variable W = W0.defined() ? W0
                            : Variable(Tensor::zeros({d.B, d.H, d.Dv, d.Dk}, k.dtype(),
                                                     k.value().device()));
  std::vector<Variable> ys;
  for (int64_t t = 0; t < d.T; ++t) {
    for (int64_t j = 0; j < d.n; ++j) {
      const int64_t s = t * d.n + j;
      Variable ks = column(k, s), vs = column(v, s), bs = scalar_at(beta, s);
      W = W + matmul(bs * (vs - matmul(W, ks)), ks, false, true);  // W + beta (v - W k) k^T
    }
    if (q.defined()) ys.push_back(matmul(W, column(q, t)));         // y_t = W_t q_t
  }
  if (!q.defined()) return {Variable(), W};
  return {stack_steps(ys, FastWeightDims{d.B, d.H, d.T, d.Dk, d.Dv}, k.dtype()), W};
}

}  // namespace fwp
