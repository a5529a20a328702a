// The gated delta rule (Yang, Kautz & Hatamizadeh, "Gated Delta Networks", ICLR 2025) as one
// differentiable op: the delta rule of fast weight programmers with a learned decay alpha_t.
// Per (batch b, head h), with fast weight W (Dv x Ddot) and step t = 1..T:
//   W_t = alpha_t (W_{t-1} - beta_t (W_{t-1} k_t) k_t^T) + beta_t v_t k_t^T,   y_t = W_t q_t
// alpha_t in (0, 1] forgets all of W a little at every step (alpha = 1 is exactly the delta rule);
// beta_t in (0, 1) is the delta rule's writing strength. Both are squashed by the caller (the
// layers use alpha = sigmoid(logit + per-head bias), docs/gated_delta_rule.md says why).
// The fused op keeps ceil(T / C) checkpoints of W per head for its backward, which re-runs each
// segment of C steps (kernels/gated_delta_rule.h); its gradients are derived in
// gated_delta_rule_op.cpp. gated_delta_rule_reference composes the same math from autograd
// primitives one step at a time: slow and memory-hungry, kept to test the fused op against.
#pragma once
#include "autograd/variable.h"

namespace fwp {

struct GatedDeltaRuleResult {
  Variable y;      // (B, H, T, Dv)
  Variable state;  // W_T, (B, H, Dv, Ddot)
};

// q, k (B, H, T, Ddot); v (B, H, T, Dv); beta, alpha (B, H, T); W0 (B, H, Dv, Ddot) or undefined
// (zeros). Gradients flow to every input, including from an upstream gradient on the final state.
GatedDeltaRuleResult gated_delta_rule(const Variable& q, const Variable& k, const Variable& v,
                                      const Variable& beta, const Variable& alpha,
                                      const Variable& W0 = {});
GatedDeltaRuleResult gated_delta_rule_reference(const Variable& q, const Variable& k,
                                                const Variable& v, const Variable& beta,
                                                const Variable& alpha, const Variable& W0 = {});

// The checkpoint interval C the fused op uses for T steps of a (Dv x Ddot) state of dtype: a
// state is kept every C steps; C = min(T, the most states that fit in 1 MiB).
int64_t gated_delta_rule_checkpoint_interval(int64_t T, int64_t Ddot, int64_t Dv, DType dtype);

}  // namespace fwp
