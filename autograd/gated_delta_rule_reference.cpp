// The gated delta rule composed from autograd primitives, one time step at a time, written as
// the paper writes it (Yang et al., ICLR 2025, eq. 10): the plain statement of the math that the
// fused op (gated_delta_rule.cpp) is tested against. Every step adds a few (B, H, Dv, Ddot)
// tensors to the tape, so memory grows as T x Dv x Ddot: use it for checking, not for training.
#include "autograd/fast_weight.h"
#include "autograd/functions.h"
#include "autograd/gated_delta_rule.h"

namespace fwp {

namespace {
// Step t of x (B, H, T, D) as a batch of column vectors (B, H, D, 1).
Variable column(const Variable& x, int64_t t) {
  return reshape(slice(x, 2, t, t + 1), {x.size(0), x.size(1), x.size(3), 1});
}
// Step t of a per-step scalar s (B, H, T) as (B, H, 1, 1).
Variable scalar_at(const Variable& s, int64_t t) {
  return reshape(slice(s, 2, t, t + 1), {s.size(0), s.size(1), 1, 1});
}
}  // namespace

GatedDeltaRuleResult gated_delta_rule_reference(const Variable& q, const Variable& k,
                                                const Variable& v, const Variable& beta,
                                                const Variable& alpha, const Variable& W0) {
  const char* op = "gated_delta_rule_reference";
  FWP_CHECK(beta.defined() && alpha.defined(), op, ": beta and alpha must be defined");
  const FastWeightDims d = check_fast_weight_args(op, q, k, v, beta, W0, {});
  FWP_CHECK_SHAPE(alpha.shape() == Shape({d.B, d.H, d.T}), op, ": alpha must be (B, H, T) = ",
                  Shape({d.B, d.H, d.T}), ", got alpha=", alpha.shape());
  Variable W = W0.defined() ? W0 : Variable(Tensor::zeros({d.B, d.H, d.Dv, d.Dk}, q.dtype()));
  std::vector<Variable> ys;
  for (int64_t t = 0; t < d.T; ++t) {
    Variable qt = column(q, t), kt = column(k, t), vt = column(v, t);
    Variable bt = scalar_at(beta, t), at = scalar_at(alpha, t);
    Variable Wk = matmul(W, kt);                                       // W_{t-1} k_t
    W = at * (W - bt * matmul(Wk, kt, false, true))                    // alpha (W - beta W k k^T)
        + bt * matmul(vt, kt, false, true);                            //   + beta v k^T
    ys.push_back(reshape(matmul(W, qt), {d.B, d.H, 1, d.Dv}));        // y_t = W_t q_t
  }
  Variable y = ys.empty() ? Variable(Tensor::zeros({d.B, d.H, 0, d.Dv}, q.dtype())) : concat(ys, 2);
  return {y, W};
}

}  // namespace fwp
