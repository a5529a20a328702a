// DeltaProduct (Siems, Carstensen, Zela, Hutter, Pontil & Grazzi, "DeltaProduct: Improving
// State-Tracking in Linear RNNs via Householder Products", 2025) as one differentiable op: the
// delta rule taken n_h times per token, each time with its own key, value and strength.
// Per (batch b, head h), with fast weight W (Dv x Ddot) and token t = 1..T:
//   W_{t,0} = W_{t-1}
//   W_{t,j} = W_{t,j-1} + beta_{t,j} (v_{t,j} - W_{t,j-1} k_{t,j}) k_{t,j}^T     j = 1..n_h
//   W_t = W_{t,n_h},   y_t = W_t q_t
// Each step multiplies W by (I - beta k k^T) on the right, a generalised Householder reflection
// when |k| = 1 and beta = 2: a product of n_h of them per token can rotate the state, which one
// delta step (n_h = 1, the delta rule) cannot. The writes of token t are rows t n_h .. t n_h +
// n_h - 1 of k, v and beta: a delta rule over T n_h steps that reads only after every n_h-th.
// The fused op runs plain-loop kernels (kernels/delta_product.h; no SIMD copy yet) with the
// backward derived in delta_product_op.cpp; delta_product_reference composes the same math from
// autograd primitives one write at a time.
#pragma once
#include "autograd/variable.h"

namespace fwp {

struct DeltaProductResult {
  Variable y;      // (B, H, T, Dv), undefined when q is
  Variable state;  // W_T, (B, H, Dv, Ddot)
};

// q (B, H, T, Ddot) or undefined (nothing is read: write only); k (B, H, T * n_h, Ddot);
// v (B, H, T * n_h, Dv); beta (B, H, T * n_h), already in (0, 1) (or (0, 2) for reflections);
// W0 (B, H, Dv, Ddot) or undefined (zeros). n_h >= 1. Gradients flow to every defined input.
DeltaProductResult delta_product(const Variable& q, const Variable& k, const Variable& v,
                                 const Variable& beta, int64_t n_h, const Variable& W0 = {});
DeltaProductResult delta_product_reference(const Variable& q, const Variable& k,
                                           const Variable& v, const Variable& beta, int64_t n_h,
                                           const Variable& W0 = {});

}  // namespace fwp
