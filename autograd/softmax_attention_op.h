// Softmax attention as one differentiable op: y = softmax(scale q k^T + mask) v per (batch, head),
// with the T x S probabilities never stored (kernels/softmax_attention.h has the math and the
// hand-derived backward). It replaces the composition matmul -> scale -> masked_fill -> softmax
// -> matmul, which keeps four (B, H, T, S) tensors per layer for its backward; this keeps
// y and a log-sum-exp per query, O(T) per head.
#pragma once
#include "autograd/variable.h"

namespace fwp {

// q (B, H, T, Dk), k (B, H, S, Dk), v (B, H, S, Dv) -> (B, H, T, Dv), scale 1/sqrt(Dk).
// causal: query i sees keys j <= offset + i (offset = keys before the first query, as when
// generating with a cache). key_valid: (B, S), nonzero = a real key, or undefined (all real).
// A query that sees no key gets zeros. Gradients flow to q, k and v; f32 and f64.
Variable fused_softmax_attention(const Variable& q, const Variable& k, const Variable& v,
                                 bool causal, int64_t offset, const Tensor& key_valid);

}  // namespace fwp
