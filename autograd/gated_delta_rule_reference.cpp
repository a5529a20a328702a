// The gated delta rule composed from autograd primitives, one time step at a time, written as
// the paper writes it (Yang et al., ICLR 2025, eq. 10): the plain statement of the math that the
// fused op (gated_delta_rule.cpp) is tested against. Every step adds a few (B, H, Dv, Ddot)
// tensors to the tape, so memory grows as T x Dv x Ddot: use it for checking, not for training.
#include "autograd/fast_weight.h"
#include "autograd/fast_weight_util.h"
#include "autograd/functions.h"
#include "autograd/gated_delta_rule.h"

namespace fwp {

using namespace fast_weight_detail;

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
