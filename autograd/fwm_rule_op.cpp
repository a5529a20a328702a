// The FWM-rule op: argument checks, one forward kernel call that also writes checkpoints, one
// backward kernel call; then the composed reference. The gradient of one step, with
// A = dL/dW_t (g_t q_t^T included), n = |Wtilde_t|_F and W = W_t:
//   clamp, n > 1:  W = Wtilde / n and dn = <W, dWtilde>, so
//                  dW = dWtilde / n - Wtilde <Wtilde, dWtilde> / n^3 and, taking <A, dW>,
//                  dL/dWtilde = (A - <A, W> W) / n   (A minus its component along W, over n)
//   clamp, n <= 1, or no clamp at this step:  dL/dWtilde = A  (at n = 1 we take this side)
//   write Wtilde = W_{t-1} + beta (v - W_{t-1} k) k^T, with At = dL/dWtilde and a = At k:
//     dL/dW_{t-1} = At - beta a k^T     dv = beta a     dbeta = a . (v - W_{t-1} k)
//     dk = At^T beta (v - W_{t-1} k) - beta W_{t-1}^T a     dq_t = W_t^T g_t
// and dW0 = dL/dW_0 at the end of the reverse sweep.
#include "autograd/fwm_rule_op.h"

#include <cmath>

#include "autograd/fast_weight_util.h"
#include "autograd/functions.h"
#include "autograd/tape.h"
#include "core/functional.h"
#include "kernels/fwm_rule.h"

namespace fwp {

using namespace fast_weight_detail;

namespace {

// Like check_fast_weight_args (autograd/fast_weight_op.h), but k leads: q may be undefined.
FastWeightDims check_fwm_args(const char* op, const Variable& q, const Variable& k, const Variable& v,
                       const Variable& beta, const Variable& W0) {
  FWP_CHECK(k.defined() && v.defined() && beta.defined(), op, ": k, v and beta must be defined");
  FWP_CHECK_SHAPE(k.dim() == 4, op, ": k must be 4-D (B, H, T, Dk), got k=", k.shape());
  const Shape& s = k.shape();
  FastWeightDims d{s[0], s[1], s[2], s[3], v.dim() == 4 ? v.size(3) : 0};
  if (q.defined()) {
    FWP_CHECK_SHAPE(q.shape() == s, op, ": q must have the shape of k (B, H, T, Dk), got q=",
                    q.shape(), " and k=", s);
    check_same_type(op, "k", k.value(), "q", q.value());
  }
  FWP_CHECK_SHAPE(v.dim() == 4 && v.size(0) == d.B && v.size(1) == d.H && v.size(2) == d.T, op,
                  ": v must be (B, H, T, Dv) with the B, H, T of k, got k=", s, " and v=",
                  v.shape());
  FWP_CHECK_SHAPE(beta.shape() == Shape({d.B, d.H, d.T}), op, ": beta must be (B, H, T) = ",
                  Shape({d.B, d.H, d.T}), ", got beta=", beta.shape());
  check_same_type(op, "k", k.value(), "v", v.value());
  check_same_type(op, "k", k.value(), "beta", beta.value());
  require_cpu(k.value(), op, "k");
  if (W0.defined()) {
    FWP_CHECK_SHAPE(W0.shape() == Shape({d.B, d.H, d.Dv, d.Dk}), op,
                    ": W0 must be (B, H, Dv, Dk) = ", Shape({d.B, d.H, d.Dv, d.Dk}), ", got W0=",
                    W0.shape());
    check_same_type(op, "k", k.value(), "W0", W0.value());
  }
  return d;
}

// Gradients as in the comment at the top of this file. Saves the inputs and the checkpoints
// (ceil(T / C) states per sequence), never a state per step.
struct FwmRuleOp : Op {
  Tensor q, k, v, beta, checkpoints;  // q undefined when there is no read-out
  FastWeightDims dims{};
  int64_t C = 1;
  bool clamp_first_step = true, has_q = false, has_W0 = false;
  const char* name() const override { return "fwm_rule"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g,
                               const std::vector<bool>& need) override {
    const auto [B, H, T, Dk, Dv] = dims;
    const DType dt = k.dtype();
    Tensor grad_y = has_q ? unless_zero(g[0]) : Tensor();
    Tensor grad_WT = unless_zero(g[has_q ? 1 : 0]);
    const bool read = grad_y.defined();  // an unused y contributes nothing: run state-only
    Tensor dq = has_q ? (read ? Tensor::empty(k.shape(), dt) : Tensor::zeros(k.shape(), dt))
                      : Tensor();
    Tensor dk = Tensor::empty(k.shape(), dt), dv = Tensor::empty(v.shape(), dt);
    Tensor dbeta = Tensor::empty(beta.shape(), dt);
    Tensor dW0 = has_W0 ? Tensor::empty({B, H, Dv, Dk}, dt) : Tensor();
    Tensor q_read = read ? q : Tensor();
    dispatch_dtype(dt, [&](auto tag) {
      using Real = decltype(tag);
      Tensor ws = Tensor::empty({kernels::fwm_rule_workspace_size<Real>(B * H, Dk, Dv, C)}, dt);
      kernels::fwm_rule_backward_cpu<Real>(
          read ? dq.data<Real>() : nullptr, dk.data<Real>(), dv.data<Real>(), dbeta.data<Real>(),
          ptr_or_null<Real>(dW0), ptr_or_null<Real>(grad_y), ptr_or_null<Real>(grad_WT),
          ptr_or_null<Real>(q_read), k.data<Real>(), v.data<Real>(), beta.data<Real>(),
          checkpoints.data<Real>(), clamp_first_step, B * H, T, Dk, Dv, C, ws.data<Real>());
    });
    return gradients_in_input_order(has_q, dq, {dk, dv, dbeta}, has_W0, dW0, need);
  }
};

}  // namespace

int64_t fwm_rule_checkpoint_interval(int64_t T) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(std::sqrt(double(T)))));
}

FwmRuleResult fwm_rule(const Variable& q, const Variable& k, const Variable& v,
                       const Variable& beta, const Variable& W0, bool clamp_first_step) {
  const FastWeightDims dims = check_fwm_args("fwm_rule", q, k, v, beta, W0);
  const auto [B, H, T, Dk, Dv] = dims;
  std::vector<Variable> inputs;
  if (q.defined()) inputs.push_back(q);
  for (const Variable& x : {k, v, beta}) inputs.push_back(x);
  if (W0.defined()) inputs.push_back(W0);
  const bool grad = any_requires_grad(inputs);
  const DType dt = k.dtype();
  const int64_t C = fwm_rule_checkpoint_interval(T);
  Tensor y = q.defined() ? Tensor::empty({B, H, T, Dv}, dt) : Tensor();
  Tensor WT = Tensor::empty({B, H, Dv, Dk}, dt);
  Tensor cps = grad ? Tensor::empty({B, H, kernels::fwm_rule_checkpoints(T, C), Dk, Dv}, dt)
                    : Tensor();
  Tensor qt = value_or_undefined(q), W0t = value_or_undefined(W0);
  dispatch_dtype(dt, [&](auto tag) {
    using Real = decltype(tag);
    Tensor ws = Tensor::empty({kernels::fwm_rule_workspace_size<Real>(B * H, Dk, Dv, C)}, dt);
    kernels::fwm_rule_forward_cpu<Real>(
        ptr_or_null<Real>(y), WT.data<Real>(), ptr_or_null<Real>(cps), ptr_or_null<Real>(qt),
        k.value().data<Real>(), v.value().data<Real>(), beta.value().data<Real>(),
        ptr_or_null<Real>(W0t), clamp_first_step, B * H, T, Dk, Dv, C, ws.data<Real>());
  });
  auto op = std::make_shared<FwmRuleOp>();
  if (grad) {
    op->q = qt;
    op->k = k.value();
    op->v = v.value();
    op->beta = beta.value();
    op->checkpoints = cps;
  }
  op->dims = dims;
  op->C = C;
  op->clamp_first_step = clamp_first_step;
  op->has_q = q.defined();
  op->has_W0 = W0.defined();
  const auto [y_out, state] = record_read_and_state(op, inputs, y, WT, q.defined());
  return {y_out, state};
}

FwmRuleResult fwm_rule_reference(const Variable& q, const Variable& k, const Variable& v,
                                 const Variable& beta, const Variable& W0,
                                 bool clamp_first_step) {
  const FastWeightDims d = check_fwm_args("fwm_rule_reference", q, k, v, beta, W0);
  const auto [B, H, T, Dk, Dv] = d;
  Variable W = W0.defined() ? W0 : Variable(Tensor::zeros({B, H, Dv, Dk}, k.dtype()));
  std::vector<Variable> ys;
  for (int64_t t = 0; t < T; ++t) {
    Variable kt = column(k, t), vt = column(v, t);
    Variable bt = scalar_at(beta, t);
    Variable vbar = matmul(W, kt);                                    // W_{t-1} k_t
    W = W + matmul(bt * (vt - vbar), kt, false, true);                // Wtilde_t
    if (t > 0 || clamp_first_step) {
      Variable norm = sqrt(sum(square(W), {2, 3}, true));            // |Wtilde_t|_F, (B, H, 1, 1)
      W = W / (relu(norm - 1.0) + 1.0);                               // / max(1, |Wtilde_t|_F)
    }
    if (q.defined()) ys.push_back(matmul(W, column(q, t)));           // W_t q_t
  }
  if (!q.defined()) return {Variable(), W};
  return {stack_steps(ys, d, k.dtype()), W};
}

}  // namespace fwp
