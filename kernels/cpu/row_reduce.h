// Inline one-row reductions shared by the softmax, cross-entropy and layer-norm kernels.
// Each is a single unit-stride loop with a SIMD reduction (lanes accumulate separately, so the
// summation order differs from a plain loop by rounding only).
#pragma once
#include <cstdint>
#include <limits>

#include "kernels/cpu/fast_exp.h"

namespace fwp::kernels {

// max_j x_j; -inf for an all -inf row; NaN if any x_j is NaN, so that a NaN spreads over its
// row in the passes that follow instead of being skipped (or mistaken for a masked row).
template <typename T>
inline T row_max(const T* x, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
  int nan = 0;
#pragma omp simd reduction(max : m) reduction(| : nan)
  for (int64_t j = 0; j < n; ++j) {
    m = x[j] > m ? x[j] : m;
    nan |= x[j] != x[j];
  }
  return nan ? std::numeric_limits<T>::quiet_NaN() : m;
}

// sum_j x_j
template <typename T>
inline T row_sum(const T* x, int64_t n) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < n; ++j) s += x[j];
  return s;
}

// sum_j exp(x_j - m), nothing stored
template <typename T>
inline T row_sum_exp(const T* x, T m, int64_t n) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < n; ++j) s += fast_exp(x[j] - m);
  return s;
}

}  // namespace fwp::kernels
