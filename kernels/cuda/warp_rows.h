// Device helpers the fused fast-weight kernels share: a row of the state spread over the 32
// lanes of a warp, KPL values per lane (column j = lane + 32 c), and the warp's sum by shuffles.
// Only for .cu files (nvcc).
#pragma once
#include <cstdint>

namespace fwp::kernels::cuda_rows {

constexpr int kWarps = 4;  // warps per block

// The sum of x over the 32 lanes of the warp, in every lane (butterfly shuffles, no barrier).
template <typename Real>
__device__ __forceinline__ Real warp_sum(Real x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// The largest x over the 32 lanes, in every lane; NaN if any lane holds NaN (so a NaN spreads
// over its row, as kernels/cpu/row_reduce.h's row_max does, instead of being skipped).
template <typename Real>
__device__ __forceinline__ Real warp_max(Real x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const Real y = __shfl_xor_sync(0xffffffffu, x, o);
    x = (x != x) ? x : ((y != y || y > x) ? y : x);
  }
  return x;
}

// This lane's columns of a row of Dk values (zeros past Dk).
template <typename Real, int KPL>
__device__ __forceinline__ void load_cols(Real (&out)[KPL], const Real* row, int64_t Dk,
                                          int lane) {
#pragma unroll
  for (int c = 0; c < KPL; ++c) {
    const int64_t j = lane + 32 * c;
    out[c] = j < Dk ? row[j] : Real(0);
  }
}

// The dot product of two rows held as above, in every lane.
template <typename Real, int KPL>
__device__ __forceinline__ Real row_dot(const Real (&a)[KPL], const Real (&b)[KPL]) {
  Real part = 0;
#pragma unroll
  for (int c = 0; c < KPL; ++c) part += a[c] * b[c];
  return warp_sum(part);
}

// A warp's share of one Dv x Dk state matrix, as the fused kernels keep it in registers: rows
// first + r kWarps (r < R), columns lane + 32 c (c < KPL). load_rows reads it from M (zeros where
// M is null or outside the matrix); store_rows writes it to M, inside the matrix only.
template <typename Real, int R, int KPL>
__device__ __forceinline__ void load_rows(Real (&w)[R][KPL], const Real* M, int64_t first,
                                          int64_t Dk, int64_t Dv, int lane) {
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t i = first + int64_t(r) * kWarps;
#pragma unroll
    for (int c = 0; c < KPL; ++c) {
      const int64_t j = lane + 32 * c;
      w[r][c] = (M != nullptr && i < Dv && j < Dk) ? M[i * Dk + j] : Real(0);
    }
  }
}

template <typename Real, int R, int KPL>
__device__ __forceinline__ void store_rows(Real* M, const Real (&w)[R][KPL], int64_t first,
                                           int64_t Dk, int64_t Dv, int lane) {
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t i = first + int64_t(r) * kWarps;
#pragma unroll
    for (int c = 0; c < KPL; ++c) {
      const int64_t j = lane + 32 * c;
      if (i < Dv && j < Dk) M[i * Dk + j] = w[r][c];
    }
  }
}

}  // namespace fwp::kernels::cuda_rows
