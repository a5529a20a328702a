// Fast-weight memories (Schlag, Irie, Schmidhuber, ICML 2021) as single differentiable ops.
// Per (batch b, head h), with fast weight W (Dv x Ddot) and step t = 1..T:
//   delta rule:  vbar_t = W_{t-1} k_t;  u_t = beta_t (v_t - vbar_t);  W_t = W_{t-1} + u_t k_t^T;
//                y_t = W_t q_t   (read AFTER the write of step t)
//   sum rule:    W_t = W_{t-1} + v_t k_t^T;  z_t = z_{t-1} + k_t;
//                y_t = W_t q_t, or W_t q_t / (z_t . q_t + eps) when normalize
// q, k are the feature-mapped (and, for the delta rule, sum-normalised) queries and keys; beta is
// already squashed into (0, 1) by the caller. The fused ops keep O(T Dv) per head for the backward
// (never a T x Dv x Ddot tensor); their gradients are hand-derived (kernels/delta_rule.h,
// kernels/sum_rule.h). The *_reference versions compose the same math from autograd primitives,
// one step at a time: slow and memory-hungry, kept to test the fused ones against.
#pragma once
#include "autograd/variable.h"

namespace fwp {

struct DeltaRuleResult {
  Variable y;      // (B, H, T, Dv)
  Variable state;  // W_T, (B, H, Dv, Ddot)
};

// q, k (B, H, T, Ddot); v (B, H, T, Dv); beta (B, H, T); W0 (B, H, Dv, Ddot) or undefined (zeros).
// Gradients flow to every input, including from an upstream gradient on the final state.
DeltaRuleResult delta_rule(const Variable& q, const Variable& k, const Variable& v,
                           const Variable& beta, const Variable& W0 = {});
DeltaRuleResult delta_rule_reference(const Variable& q, const Variable& k, const Variable& v,
                                     const Variable& beta, const Variable& W0 = {});

struct SumRuleResult {
  Variable y;      // (B, H, T, Dv)
  Variable state;  // W_T, (B, H, Dv, Ddot)
  Variable z;      // z_T = z0 + sum_t k_t, (B, H, Ddot); it affects y only when normalize
};

// q, k (B, H, T, Ddot); v (B, H, T, Dv); W0 (B, H, Dv, Ddot) and z0 (B, H, Ddot) or undefined
// (zeros). Pass the previous segment's state and z as W0 and z0 to carry the memory over.
SumRuleResult sum_rule(const Variable& q, const Variable& k, const Variable& v, bool normalize,
                       double eps, const Variable& W0 = {}, const Variable& z0 = {});
SumRuleResult sum_rule_reference(const Variable& q, const Variable& k, const Variable& v,
                                 bool normalize, double eps, const Variable& W0 = {},
                                 const Variable& z0 = {});

// Sizes of a fast-weight call, after checking every argument (shared by the fused and reference
// versions). beta, W0, z0 may be undefined. Throws ShapeError naming op, argument and shapes,
// and fwp::Error naming the devices unless all are on one device, the CPU unless the op has
// CUDA kernels (any_device).
struct FastWeightDims {
  int64_t B, H, T, Dk, Dv;  // Dk = Ddot
};
FastWeightDims check_fast_weight_args(const char* op, const Variable& q, const Variable& k,
                                      const Variable& v, const Variable& beta,
                                      const Variable& W0, const Variable& z0,
                                      bool any_device = false);

}  // namespace fwp
