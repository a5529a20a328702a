// FAVOR+ positive random features (Choromanski et al. 2021) after the projection u = x omega,
// fused into one pass per row (the matmul itself stays with BLAS):
//   c = |x|^2 / 2 + log(2m) / 2                       (one scalar per row: log space, no overflow)
//   phi = [exp(u - c), exp(-u - c)] + eps             (m + m features)
// Backward, with e = phi - eps = the two exponentials and g = dL/dphi split the same way:
//   du = g+ e+ - g- e-          dc = -sum(g+ e+ + g- e-)          dx = x dc  (the |x|^2 term)
// The caller adds the projection's part du omega^T to dx. e is recovered as phi - eps, so only
// phi is kept: with eps > 0 an exponential far below eps loses digits, but its term is then at
// most ulp(eps) |g| in absolute size. f32 uses fast_exp (vectorised, relative error <= 7.9e-8);
// f64 uses std::exp. The naive twins use std::exp and double sums throughout.
#pragma once
#include <cstdint>

namespace fwp::kernels {

// phi is (N, 2m); u is (N, m) = x omega; x is (N, Dk).
template <typename T>
void favor_forward(T* phi, const T* u, const T* x, T eps, int64_t N, int64_t Dk, int64_t m);

// du is (N, m); dx is (N, Dk) = x dc; dphi and phi are (N, 2m); x is (N, Dk).
template <typename T>
void favor_backward(T* du, T* dx, const T* dphi, const T* phi, const T* x, T eps, int64_t N,
                    int64_t Dk, int64_t m);

template <typename T>
void favor_forward_naive(T* phi, const T* u, const T* x, T eps, int64_t N, int64_t Dk, int64_t m);

template <typename T>
void favor_backward_naive(T* du, T* dx, const T* dphi, const T* phi, const T* x, T eps, int64_t N,
                          int64_t Dk, int64_t m);

}  // namespace fwp::kernels
