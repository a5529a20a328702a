// The fast weight memory (FWM) update rule of Schlag, Munkhdalai & Schmidhuber (ICLR 2021), the
// "FWM" baseline of the synthetic setting 2 (docs/THEORY.md sections 6.4, 9.1), as one
// differentiable op. Per (batch b, head h), with W (Dv x Dk) and step t = 1..T:
//   vbar_t = W_{t-1} k_t;   Wtilde_t = W_{t-1} + beta_t (v_t - vbar_t) k_t^T
//   W_t = Wtilde_t / max(1, |Wtilde_t|_F);   y_t = W_t q_t
// No sum normalisation of k and q, and the output LayerNorm (no affine) of FWM is the caller's.
// clamp_first_step = false skips the clamp at t = 1, as the authors' synthetic code does (it
// writes W_1 = beta_1 v_1 k_1^T). q may be undefined: then nothing is read out, y is undefined
// and only the state is computed (the synthetic model reads W_T once, after the sequence).
// The fused op's backward re-runs checkpointed segments of the forward (kernels/fwm_rule.h);
// fwm_rule_reference composes the same math from autograd primitives, one step at a time.
#pragma once
#include "autograd/variable.h"

namespace fwp {

struct FwmRuleResult {
  Variable y;      // (B, H, T, Dv), undefined when q is
  Variable state;  // W_T, (B, H, Dv, Dk)
};

// q (or undefined), k (B, H, T, Dk); v (B, H, T, Dv); beta (B, H, T), already in (0, 1);
// W0 (B, H, Dv, Dk) or undefined (zeros). Gradients flow to every defined input.
FwmRuleResult fwm_rule(const Variable& q, const Variable& k, const Variable& v,
                       const Variable& beta, const Variable& W0 = {},
                       bool clamp_first_step = true);
FwmRuleResult fwm_rule_reference(const Variable& q, const Variable& k, const Variable& v,
                                 const Variable& beta, const Variable& W0 = {},
                                 bool clamp_first_step = true);

// The checkpoint interval C the fused op uses for T steps (a state is kept every C steps).
int64_t fwm_rule_checkpoint_interval(int64_t T);

}  // namespace fwp
