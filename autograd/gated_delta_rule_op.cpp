// The gated-delta-rule op: argument checks, one forward kernel call that also writes checkpoints,
// one backward kernel call (kernels/gated_delta_rule.h). The gradients, derived one line of the
// forward at a time. Step t of the forward, with W = W_{t-1}:
//   (1) p = W k_t    (2) d = v_t - alpha_t p    (3) u = beta_t d
//   (4) W_t = alpha_t W + u k_t^T                (5) y_t = W_t q_t
// Going backwards, G = dL/dW_t from the later steps (dL/dW_T at t = T, zero if W_T is unused)
// and g = dL/dy_t:
//   (5)  A = G + g q_t^T (all of dL/dW_t);   dq_t = W_t^T g
//   (4)  a := dL/du = A k_t;   dk_t += A^T u;   dalpha_t += <A, W>;   dL/dW += alpha_t A
//   (3)  dbeta_t = a . d;   dL/dd = beta_t a
//   (2)  dv_t = beta_t a;   dalpha_t -= beta_t a . p;   dL/dp = -alpha_t beta_t a
//   (1)  dL/dW -= alpha_t beta_t a k_t^T;   dk_t -= alpha_t beta_t W^T a
// Collected, with A' = A - beta_t a k_t^T (and a^T W k = <a k^T, W>):
//   dL/dW_{t-1} = alpha_t A'          dalpha_t = <A', W_{t-1}>          dv_t = beta_t a
//   dk_t = A^T u - alpha_t beta_t W_{t-1}^T a        dbeta_t = a . (v_t - alpha_t W_{t-1} k_t)
//   dq_t = W_t^T g = alpha_t W_{t-1}^T g + (u . g) k_t        dW0 = dL/dW_0
// Every term needs W_{t-1} only (dq through the last form), so the reverse sweep needs W_{t-1}
// for t = T..1. W_{t-1} = (W_t - u k_t^T) / alpha_t would multiply the rounding errors by
// 1/alpha_t per step; the kernels re-run checkpointed segments of the forward instead.
// With alpha = 1 every formula is the delta rule's (autograd/fast_weight_op.cpp).
#include "autograd/gated_delta_rule_op.h"

#include <algorithm>

#include "autograd/fast_weight_op.h"
#include "autograd/fast_weight_util.h"
#include "autograd/functions.h"
#include "autograd/tape.h"
#include "core/device_dispatch.h"
#include "core/functional.h"
#include "kernels/gated_delta_rule.h"

namespace fwp {

using namespace fast_weight_detail;

FastWeightDims fast_weight_detail::check_gated_args(const char* op, const Variable& q,
                                                    const Variable& k, const Variable& v,
                                                    const Variable& beta, const Variable& alpha,
                                                    const Variable& W0) {
  FWP_CHECK(beta.defined() && alpha.defined(), op, ": beta and alpha must be defined");
  const FastWeightDims d = check_fast_weight_args(op, q, k, v, beta, W0, {}, true);
  FWP_CHECK_SHAPE(alpha.shape() == Shape({d.B, d.H, d.T}), op, ": alpha must be (B, H, T) = ",
                  Shape({d.B, d.H, d.T}), ", got alpha=", alpha.shape());
  check_same_type(op, "q", q.value(), "alpha", alpha.value());
  return d;
}

namespace {

// Gradients as in the comment at the top of this file. Saves the inputs (handles, no copies) and
// ceil(T / C) checkpoints per head, never a state per step.
struct GatedDeltaRuleOp : Op {
  Tensor q, k, v, beta, alpha, checkpoints;
  FastWeightDims dims{};
  int64_t C = 1;
  bool has_W0 = false;
  const char* name() const override { return "gated_delta_rule"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g,
                               const std::vector<bool>& need) override {
    const auto [B, H, T, Dk, Dv] = dims;
    const DType dt = q.dtype();
    const Device dev = q.device();  // the kernels run there (FWP_FUSED_KERNEL)
    Tensor dq = Tensor::empty(q.shape(), dt, dev), dk = Tensor::empty(q.shape(), dt, dev);
    Tensor dv = Tensor::empty(v.shape(), dt, dev), dbeta = Tensor::empty(beta.shape(), dt, dev);
    Tensor dalpha = Tensor::empty(alpha.shape(), dt, dev);
    Tensor dW0 = has_W0 ? Tensor::empty({B, H, Dv, Dk}, dt, dev) : Tensor();
    Tensor grad_WT = unless_zero(g[1]);
    dispatch_dtype(dt, [&](auto tag) {
      using Real = decltype(tag);
      Tensor ws = Tensor::empty(
          {kernels::gated_delta_rule_workspace<Real>(dev == Device::cuda, true, B * H, T, Dk, Dv,
                                                     C)},
          dt, dev);
      FWP_FUSED_KERNEL(dev, gated_delta_rule_backward, Real)(
          dq.data<Real>(), dk.data<Real>(), dv.data<Real>(), dbeta.data<Real>(),
          dalpha.data<Real>(), ptr_or_null<Real>(dW0), g[0].data<Real>(),
          ptr_or_null<Real>(grad_WT), q.data<Real>(), k.data<Real>(), v.data<Real>(),
          beta.data<Real>(), alpha.data<Real>(), checkpoints.data<Real>(), B * H, T, Dk, Dv, C,
          ws.data<Real>());
    });
    std::vector<Tensor> grads = {dq, dk, dv, dbeta, dalpha};
    if (has_W0) grads.push_back(dW0);
    return only_needed(grads, need);
  }
};

}  // namespace

// C is the largest interval whose C re-run states fit in 1 MiB, the L2 cache of one core of the
// machine this was measured on (AMD EPYC, 1 MB L2 per core), and at most T: the checkpoints kept
// between forward and backward (ceil(T / C) states per head) fall as 1 / C, while the speed stays
// flat until a segment leaves L2. Measured (bench_gated_delta --what interval, T = 1024, 1 thread,
// CPU time, two runs on the loaded machine; docs/RESULTS.md): at d = 64 (16 KB states, C = 64)
// forward + backward is within 6 % of its best for C = 16..64, 5-8 % slower at C = 128 (2 MB)
// and 14-17 % at C = 8 (the checkpoint writes); at d = 128 (64 KB states, C = 16) C = 16 and 32
// are the fastest, C = 128 is 23-34 % slower.
int64_t gated_delta_rule_checkpoint_interval(int64_t T, int64_t Dk, int64_t Dv, DType dtype) {
  const int64_t state = std::max<int64_t>(1, Dk * Dv * int64_t(dtype_size(dtype)));
  const int64_t fit = std::max<int64_t>(1, (int64_t(1) << 20) / state);
  return std::clamp<int64_t>(T, 1, fit);
}

GatedDeltaRuleResult gated_delta_rule(const Variable& q, const Variable& k, const Variable& v,
                                      const Variable& beta, const Variable& alpha,
                                      const Variable& W0) {
  const FastWeightDims dims = check_gated_args("gated_delta_rule", q, k, v, beta, alpha, W0);
  const auto [B, H, T, Dk, Dv] = dims;
  std::vector<Variable> inputs = {q, k, v, beta, alpha};
  if (W0.defined()) inputs.push_back(W0);
  const bool grad = any_requires_grad(inputs);
  const DType dt = q.dtype();
  const Device dev = q.device();  // the kernels run there (FWP_FUSED_KERNEL)
  const int64_t C = gated_delta_rule_checkpoint_interval(T, Dk, Dv, dt);
  Tensor y = Tensor::empty({B, H, T, Dv}, dt, dev), WT = Tensor::empty({B, H, Dv, Dk}, dt, dev);
  Tensor cps =
      grad ? Tensor::empty({B, H, kernels::gated_delta_rule_checkpoints(T, C), Dk, Dv}, dt, dev)
           : Tensor();
  Tensor W0t = value_or_undefined(W0);
  dispatch_dtype(dt, [&](auto tag) {
    using Real = decltype(tag);
    Tensor ws = Tensor::empty(
        {kernels::gated_delta_rule_workspace<Real>(dev == Device::cuda, false, B * H, T, Dk, Dv,
                                                   C)},
        dt, dev);
    FWP_FUSED_KERNEL(dev, gated_delta_rule_forward, Real)(
        y.data<Real>(), WT.data<Real>(), ptr_or_null<Real>(cps), q.value().data<Real>(),
        k.value().data<Real>(), v.value().data<Real>(), beta.value().data<Real>(),
        alpha.value().data<Real>(), ptr_or_null<Real>(W0t), B * H, T, Dk, Dv, C,
        ws.data<Real>());
  });
  auto op = std::make_shared<GatedDeltaRuleOp>();
  if (grad) {
    op->q = q.value();
    op->k = k.value();
    op->v = v.value();
    op->beta = beta.value();
    op->alpha = alpha.value();
    op->checkpoints = cps;
  }
  op->dims = dims;
  op->C = C;
  op->has_W0 = W0.defined();
  std::vector<Variable> out = record(op, inputs, {y, WT});
  return {out[0], out[1]};
}

// ---------------------------------------------------------------- the composed reference
// The gated delta rule composed from autograd primitives, one time step at a time, written as the
// paper writes it (Yang et al., ICLR 2025, eq. 10): the plain statement of the math that the fused
// op above is tested against. Every step adds a few (B, H, Dv, Ddot) tensors to the tape, so
// memory grows as T x Dv x Ddot: use it for checking, not for training.

GatedDeltaRuleResult gated_delta_rule_reference(const Variable& q, const Variable& k,
                                                const Variable& v, const Variable& beta,
                                                const Variable& alpha, const Variable& W0) {
  const FastWeightDims d =
      check_gated_args("gated_delta_rule_reference", q, k, v, beta, alpha, W0);
  Variable W = W0.defined() ? W0 : Variable(Tensor::zeros({d.B, d.H, d.Dv, d.Dk}, q.dtype()));
  std::vector<Variable> ys;
  for (int64_t t = 0; t < d.T; ++t) {
    Variable qt = column(q, t), kt = column(k, t), vt = column(v, t);
    Variable bt = scalar_at(beta, t), at = scalar_at(alpha, t);
    Variable Wk = matmul(W, kt);                                       // W_{t-1} k_t
    W = at * (W - bt * matmul(Wk, kt, false, true))                    // alpha (W - beta W k k^T)
        + bt * matmul(vt, kt, false, true);                            //   + beta v k^T
    ys.push_back(matmul(W, qt));                                       // y_t = W_t q_t
  }
  return {stack_steps(ys, d, q.dtype()), W};
}

}  // namespace fwp
