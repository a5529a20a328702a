// Per-row pieces shared by the softmax, cross-entropy and layer-norm kernels of kernels/cuda/
// (only for .cu files): one warp holds one row, each lane its columns j = lane, lane + 32, ...
#pragma once
#include <cstdint>

#include "kernels/cuda/warp_rows.h"

namespace fwp::kernels::cuda_rows {

// exp(x - m), with exp(-inf) = 0 spelled out: a masked entry must give exactly 0, and not every
// f64 exp implementation returns 0 there.
template <typename T>
__device__ __forceinline__ T exp_shifted(T x, T m) {
  return x == -T(INFINITY) ? T(0) : exp(x - m);
}

// max_j x_j over the row (NaN if any is NaN, -inf for an all -inf row), in every lane.
template <typename T>
__device__ __forceinline__ T row_max(const T* x, int64_t n, int lane) {
  T m = -T(INFINITY);
  for (int64_t j = lane; j < n; j += 32)
    m = (m != m) ? m : ((x[j] != x[j] || x[j] > m) ? x[j] : m);
  return warp_max(m);
}

// sum_j exp(x_j - m), in every lane.
template <typename T>
__device__ __forceinline__ T row_sum_exp(const T* x, T m, int64_t n, int lane) {
  T s = 0;
  for (int64_t j = lane; j < n; j += 32) s += exp_shifted(x[j], m);
  return warp_sum(s);
}

}  // namespace fwp::kernels::cuda_rows
