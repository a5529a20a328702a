// The fused fast-weight ops: argument checks, then one kernel call forward and one backward.
// Memory is the point: the delta rule keeps v_t - vbar_t (B H T Dv) beside the final state, the
// sum rule only the denominators (B H T); the backward kernels rebuild (delta) or recompute (sum)
// the fast weights instead of storing one per step. The kernels run on the arguments' device:
// FWP_FUSED_KERNEL (core/device_dispatch.h) picks the *_cpu or *_cuda twin of kernels/<rule>.h.
#include "autograd/fast_weight_op.h"

#include "autograd/delta_chunk_op.h"
#include "autograd/fast_weight_util.h"
#include "autograd/functions.h"
#include "autograd/tape.h"
#include "core/device_dispatch.h"
#include "core/functional.h"
#include "kernels/delta_rule.h"
#include "kernels/sum_rule.h"

namespace fwp {

FastWeightDims check_fast_weight_args(const char* op, const Variable& q, const Variable& k,
                                      const Variable& v, const Variable& beta,
                                      const Variable& W0, const Variable& z0, bool any_device) {
  FWP_CHECK(q.defined() && k.defined() && v.defined(), op, ": q, k and v must be defined");
  FWP_CHECK_SHAPE(q.dim() == 4, op, ": q must be 4-D (B, H, T, Ddot), got q=", q.shape());
  const Shape& s = q.shape();
  FastWeightDims d{s[0], s[1], s[2], s[3], v.dim() == 4 ? v.size(3) : 0};
  FWP_CHECK_SHAPE(k.shape() == s, op, ": k must have the shape of q (B, H, T, Ddot), got q=", s,
                  " and k=", k.shape());
  FWP_CHECK_SHAPE(v.dim() == 4 && v.size(0) == d.B && v.size(1) == d.H && v.size(2) == d.T, op,
                  ": v must be (B, H, T, Dv) with the B, H, T of q, got q=", s, " and v=",
                  v.shape());
  check_same_type(op, "q", q.value(), "k", k.value());
  check_same_type(op, "q", q.value(), "v", v.value());
  if (!any_device) require_cpu(q.value(), op, "q");
  if (beta.defined()) {
    FWP_CHECK_SHAPE(beta.shape() == Shape({d.B, d.H, d.T}), op, ": beta must be (B, H, T) = ",
                    Shape({d.B, d.H, d.T}), ", got beta=", beta.shape());
    check_same_type(op, "q", q.value(), "beta", beta.value());
  }
  if (W0.defined()) {
    FWP_CHECK_SHAPE(W0.shape() == Shape({d.B, d.H, d.Dv, d.Dk}), op,
                    ": W0 must be (B, H, Dv, Ddot) = ", Shape({d.B, d.H, d.Dv, d.Dk}),
                    ", got W0=", W0.shape());
    check_same_type(op, "q", q.value(), "W0", W0.value());
  }
  if (z0.defined()) {
    FWP_CHECK_SHAPE(z0.shape() == Shape({d.B, d.H, d.Dk}), op, ": z0 must be (B, H, Ddot) = ",
                    Shape({d.B, d.H, d.Dk}), ", got z0=", z0.shape());
    check_same_type(op, "q", q.value(), "z0", z0.value());
  }
  return d;
}

using namespace fast_weight_detail;

namespace {

// (y, W_T) = delta_rule(q, k, v, beta, W0). With A_t = dL/dW_t (A_T = dL/dW_T) and a_t = A_t k_t:
//   A_t = dL/dW_T + sum_{s>=t} g_s q_s^T - sum_{s>t} beta_s a_s k_s^T
//   dq_t = W_t^T g_t          dv_t = beta_t a_t          dbeta_t = a_t . (v_t - vbar_t)
//   dk_t = A_t^T u_t - beta_t W_{t-1}^T a_t               dW0 = A_1 - beta_1 a_1 k_1^T
// computed by one reverse sweep that rebuilds W_{t-1} = W_t - u_t k_t^T (kernels/delta_rule.h).
struct DeltaRuleOp : Op {
  Tensor q, k, beta, d, WT;  // d_t = v_t - vbar_t is what the forward saved
  FastWeightDims dims{};
  const char* name() const override { return "delta_rule"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>& need) override {
    const auto [B, H, T, Dk, Dv] = dims;
    const DType dt = q.dtype();
    const Device dev = q.device();
    DeltaRuleGrads grads(dims, dt, dev);
    // Only W_T used (e.g. the retrieval model reads the final state): the kernel skips y's terms.
    Tensor grad_y = unless_zero(g[0]), grad_WT = unless_zero(g[1]);
    dispatch_dtype(dt, [&](auto tag) {
      using Real = decltype(tag);
      const int64_t wn =
          kernels::delta_rule_workspace<Real>(dev == Device::cuda, true, B * H, T, Dk, Dv);
      Tensor ws = Tensor::empty({wn}, dt, dev);
      FWP_FUSED_KERNEL(dev, delta_rule_backward, Real)(
          grads.dq.data<Real>(), grads.dk.data<Real>(), grads.dv.data<Real>(),
          grads.dbeta.data<Real>(), grads.dW0.data<Real>(), ptr_or_null<Real>(grad_y),
          ptr_or_null<Real>(grad_WT), q.data<Real>(), k.data<Real>(), beta.data<Real>(),
          d.data<Real>(), WT.data<Real>(),
          B * H, T, Dk, Dv, ws.data<Real>());
    });
    return grads.needed(need);
  }
};

// (y, W_T, z_T) = sum_rule(q, k, v; W0, z0). With gh_t = g_t / den_t, c_t = -(g_t . y_t) / den_t
// (gh = g, c = 0 without normalisation), A_t = dL/dW_T + sum_{s>=t} gh_s q_s^T and
// Z_t = dL/dz_T + sum_{s>=t} c_s q_s:
//   dq_t = W_t^T gh_t + c_t z_t    (W_t includes W0)     dk_t = A_t^T v_t + Z_t
//   dv_t = A_t k_t                 dW0 = A_1              dz0 = Z_1
struct SumRuleOp : Op {
  Tensor q, k, v, W0, z0, y, den;  // W0, z0 may be undefined; den only when normalize
  bool normalize = false, has_W0 = false, has_z0 = false;
  FastWeightDims dims{};
  const char* name() const override { return "sum_rule"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>& need) override {
    const auto [B, H, T, Dk, Dv] = dims;
    const DType dt = q.dtype();
    const Device dev = q.device();
    Tensor dq = Tensor::empty(q.shape(), dt, dev), dk = Tensor::empty(q.shape(), dt, dev);
    Tensor dv = Tensor::empty(v.shape(), dt, dev), dW0 = Tensor::empty({B, H, Dv, Dk}, dt, dev);
    Tensor dz0 = Tensor::empty({B, H, Dk}, dt, dev);
    Tensor grad_WT = unless_zero(g[1]), grad_zT = unless_zero(g[2]);
    dispatch_dtype(dt, [&](auto tag) {
      using Real = decltype(tag);
      const int64_t wn =
          kernels::sum_rule_workspace<Real>(dev == Device::cuda, true, B * H, T, Dk, Dv);
      Tensor ws = Tensor::empty({wn}, dt, dev);
      FWP_FUSED_KERNEL(dev, sum_rule_backward, Real)(
          dq.data<Real>(), dk.data<Real>(), dv.data<Real>(), dW0.data<Real>(), dz0.data<Real>(),
          g[0].data<Real>(), ptr_or_null<Real>(grad_WT), ptr_or_null<Real>(grad_zT),
          q.data<Real>(), k.data<Real>(), v.data<Real>(), ptr_or_null<Real>(W0),
          ptr_or_null<Real>(z0), y.data<Real>(), ptr_or_null<Real>(den), normalize, B * H, T, Dk,
          Dv, ws.data<Real>());
    });
    std::vector<Tensor> grads = {dq, dk, dv};
    if (has_W0) grads.push_back(dW0);
    if (has_z0) grads.push_back(dz0);
    return only_needed(grads, need);
  }
};

}  // namespace

DeltaRuleResult delta_rule(const Variable& q, const Variable& k, const Variable& v,
                           const Variable& beta, const Variable& W0) {
  FWP_CHECK(beta.defined(), "delta_rule: beta must be defined");
  const FastWeightDims dims = check_fast_weight_args("delta_rule", q, k, v, beta, W0, {}, true);
  const auto [B, H, T, Dk, Dv] = dims;
  std::vector<Variable> inputs = {q, k, v, beta};
  if (W0.defined()) inputs.push_back(W0);
  const bool grad = any_requires_grad(inputs);
  const Device dev = q.device();
  // the sequential kernels below, or chunkwise ones where the setting or table says so (the
  // chunkwise kernels exist for the CPU only: on the GPU the sequential twins run)
  if (const DeltaRulePlan plan = delta_rule_plan(T, Dk, Dv, grad, q.dtype());
      plan.uses_chunks() && dev == Device::cpu)
    return delta_rule_with_plan(q, k, v, beta, W0, plan);
  const DType dt = q.dtype();
  Tensor y = Tensor::empty({B, H, T, Dv}, dt, dev), WT = Tensor::empty({B, H, Dv, Dk}, dt, dev);
  Tensor d = grad ? Tensor::empty({B, H, T, Dv}, dt, dev) : Tensor();
  dispatch_dtype(dt, [&](auto tag) {
    using Real = decltype(tag);
    const int64_t wn =
        kernels::delta_rule_workspace<Real>(dev == Device::cuda, false, B * H, T, Dk, Dv);
    Tensor ws = Tensor::empty({wn}, dt, dev);
    FWP_FUSED_KERNEL(dev, delta_rule_forward, Real)(
        y.data<Real>(), WT.data<Real>(), ptr_or_null<Real>(d),
        q.value().data<Real>(), k.value().data<Real>(), v.value().data<Real>(),
        beta.value().data<Real>(), W0.defined() ? W0.value().data<Real>() : nullptr, B * H, T,
        Dk, Dv, ws.data<Real>());
  });
  auto op = std::make_shared<DeltaRuleOp>();
  if (grad) {
    op->q = q.value();
    op->k = k.value();
    op->beta = beta.value();
    op->d = d;
    op->WT = WT;
  }
  op->dims = dims;
  std::vector<Variable> out = record(op, inputs, {y, WT});
  return {out[0], out[1]};
}

SumRuleResult sum_rule(const Variable& q, const Variable& k, const Variable& v, bool normalize,
                       double eps, const Variable& W0, const Variable& z0) {
  const FastWeightDims dims = check_fast_weight_args("sum_rule", q, k, v, {}, W0, z0, true);
  const auto [B, H, T, Dk, Dv] = dims;
  std::vector<Variable> inputs = {q, k, v};
  if (W0.defined()) inputs.push_back(W0);
  if (z0.defined()) inputs.push_back(z0);
  const bool grad = any_requires_grad(inputs);
  const DType dt = q.dtype();
  const Device dev = q.device();
  Tensor y = Tensor::empty({B, H, T, Dv}, dt, dev), WT = Tensor::empty({B, H, Dv, Dk}, dt, dev);
  Tensor zT = Tensor::empty({B, H, Dk}, dt, dev);
  Tensor den = grad && normalize ? Tensor::empty({B, H, T}, dt, dev) : Tensor();
  Tensor W0t = value_or_undefined(W0), z0t = value_or_undefined(z0);
  dispatch_dtype(dt, [&](auto tag) {
    using Real = decltype(tag);
    const int64_t wn =
        kernels::sum_rule_workspace<Real>(dev == Device::cuda, false, B * H, T, Dk, Dv);
    Tensor ws = Tensor::empty({wn}, dt, dev);
    FWP_FUSED_KERNEL(dev, sum_rule_forward, Real)(
        y.data<Real>(), WT.data<Real>(), zT.data<Real>(), ptr_or_null<Real>(den),
        q.value().data<Real>(), k.value().data<Real>(), v.value().data<Real>(),
        ptr_or_null<Real>(W0t), ptr_or_null<Real>(z0t), normalize, static_cast<Real>(eps),
        B * H, T, Dk, Dv, ws.data<Real>());
  });
  auto op = std::make_shared<SumRuleOp>();
  if (grad) {
    op->q = q.value();
    op->k = k.value();
    op->v = v.value();
    op->W0 = W0t;
    op->z0 = z0t;
    op->y = y;
    op->den = den;
  }
  op->normalize = normalize;
  op->has_W0 = W0.defined();
  op->has_z0 = z0.defined();
  op->dims = dims;
  std::vector<Variable> out = record(op, inputs, {y, WT, zT});
  return {out[0], out[1], out[2]};
}

// ---------------------------------------------------------------- the composed references
// The same rules composed from autograd primitives, one time step at a time: the plain statement
// of the math that the fused ops above are tested against. Every step adds a few (B, H, Dv, Ddot)
// tensors to the tape, so memory grows as T x Dv x Ddot: use these for checking, not for training.

DeltaRuleResult delta_rule_reference(const Variable& q, const Variable& k, const Variable& v,
                                     const Variable& beta, const Variable& W0) {
  FWP_CHECK(beta.defined(), "delta_rule_reference: beta must be defined");
  const FastWeightDims d = check_fast_weight_args("delta_rule_reference", q, k, v, beta, W0, {});
  Variable W = W0.defined() ? W0 : Variable(Tensor::zeros({d.B, d.H, d.Dv, d.Dk}, q.dtype()));
  std::vector<Variable> ys;
  for (int64_t t = 0; t < d.T; ++t) {
    Variable qt = column(q, t), kt = column(k, t), vt = column(v, t);
    Variable bt = scalar_at(beta, t);
    Variable vbar = matmul(W, kt);                 // W_{t-1} k_t
    Variable u = bt * (vt - vbar);                 // beta_t (v_t - vbar_t)
    W = W + matmul(u, kt, false, true);            // W_t = W_{t-1} + u_t k_t^T
    ys.push_back(matmul(W, qt));                   // y_t = W_t q_t
  }
  return {stack_steps(ys, d, q.dtype()), W};
}

SumRuleResult sum_rule_reference(const Variable& q, const Variable& k, const Variable& v,
                                 bool normalize, double eps, const Variable& W0,
                                 const Variable& z0) {
  const FastWeightDims d = check_fast_weight_args("sum_rule_reference", q, k, v, {}, W0, z0);
  Variable W = W0.defined() ? W0 : Variable(Tensor::zeros({d.B, d.H, d.Dv, d.Dk}, q.dtype()));
  Variable z = z0.defined() ? reshape(z0, {d.B, d.H, d.Dk, 1})
                            : Variable(Tensor::zeros({d.B, d.H, d.Dk, 1}, q.dtype()));
  std::vector<Variable> ys;
  for (int64_t t = 0; t < d.T; ++t) {
    Variable qt = column(q, t), kt = column(k, t), vt = column(v, t);
    W = W + matmul(vt, kt, false, true);           // W_t = W_{t-1} + v_t k_t^T
    z = z + kt;                                    // z_t = z_{t-1} + k_t
    Variable y = matmul(W, qt);                    // W_t q_t
    if (normalize) y = y / (sum(z * qt, {2}, true) + eps);  // / (z_t . q_t + eps)
    ys.push_back(y);
  }
  return {stack_steps(ys, d, q.dtype()), W, reshape(z, {d.B, d.H, d.Dk})};
}

}  // namespace fwp
