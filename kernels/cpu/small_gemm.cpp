// small_gemm: register-tiled products for small matrices (math and contract in small_gemm.h).
// The output is cut into tiles of at most kRows rows x kVecs vectors; a tile's accumulators
// (kRows * kVecs: 24 of 32 registers with AVX-512 or NEON, 12 of 16 with AVX2 or SSE) stay in
// registers for the whole s-loop, which per s loads kVecs vectors of B and broadcasts kRows
// scalars of A: 24 FMAs per 10 loads (12 per 8 with 16 registers). Tiles go column
// tile by column tile, so the K x (kVecs vectors) panel of B stays in L1 across the row tiles.
#include "kernels/cpu/small_gemm.h"

#include <algorithm>

#include "kernels/cpu/simd.h"
#include "kernels/cpu/simd_kernels.h"

namespace fwp::kernels::FWP_SIMD_ISA {

namespace {

constexpr int kRows = 6, kVecs = kBlockVecs;

// One MR x NV tile: Cm[r, :] = alpha * sum_{s in [s0, s1)} A(r, s) B[s, :] (+ Cm[r, :]).
template <typename Real, int MR, int NV>
void tile(Real* __restrict Cm, int64_t ldc, const Real* __restrict A, int64_t a_rs,
          int64_t a_cs, const Real* __restrict B, int64_t ldb, int64_t s0, int64_t s1,
          Real alpha, bool accumulate) {
  using V = Vec<Real>;
  constexpr int64_t L = kLanes<Real>;
  V acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NV; ++c) acc[r][c] = V{};
  for (int64_t s = s0; s < s1; ++s) {
    V b[NV];
    for (int c = 0; c < NV; ++c) b[c] = loadu(B + s * ldb + c * L);
    for (int r = 0; r < MR; ++r) {
      const Real a = A[r * a_rs + s * a_cs];
      for (int c = 0; c < NV; ++c) acc[r][c] += a * b[c];
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NV; ++c) {
      Real* p = Cm + r * ldc + c * L;
      storeu(p, accumulate ? loadu(p) + alpha * acc[r][c] : alpha * acc[r][c]);
    }
}

// Dispatch on the run-time tile size (rows 1..kRows, vectors 1..kVecs) to the unrolled tiles.
template <typename Real, int MR>
void tile_vecs(int nv, Real* Cm, int64_t ldc, const Real* A, int64_t a_rs, int64_t a_cs,
               const Real* B, int64_t ldb, int64_t s0, int64_t s1, Real alpha, bool acc) {
  switch (nv) {
    case 1: return tile<Real, MR, 1>(Cm, ldc, A, a_rs, a_cs, B, ldb, s0, s1, alpha, acc);
    case 2: return tile<Real, MR, 2>(Cm, ldc, A, a_rs, a_cs, B, ldb, s0, s1, alpha, acc);
    case 3: return tile<Real, MR, 3>(Cm, ldc, A, a_rs, a_cs, B, ldb, s0, s1, alpha, acc);
    default: return tile<Real, MR, 4>(Cm, ldc, A, a_rs, a_cs, B, ldb, s0, s1, alpha, acc);
  }
}

template <typename Real>
void tile_any(int mr, int nv, Real* Cm, int64_t ldc, const Real* A, int64_t a_rs, int64_t a_cs,
              const Real* B, int64_t ldb, int64_t s0, int64_t s1, Real alpha, bool acc) {
  switch (mr) {
    case 1: return tile_vecs<Real, 1>(nv, Cm, ldc, A, a_rs, a_cs, B, ldb, s0, s1, alpha, acc);
    case 2: return tile_vecs<Real, 2>(nv, Cm, ldc, A, a_rs, a_cs, B, ldb, s0, s1, alpha, acc);
    case 3: return tile_vecs<Real, 3>(nv, Cm, ldc, A, a_rs, a_cs, B, ldb, s0, s1, alpha, acc);
    case 4: return tile_vecs<Real, 4>(nv, Cm, ldc, A, a_rs, a_cs, B, ldb, s0, s1, alpha, acc);
    case 5: return tile_vecs<Real, 5>(nv, Cm, ldc, A, a_rs, a_cs, B, ldb, s0, s1, alpha, acc);
    default: return tile_vecs<Real, 6>(nv, Cm, ldc, A, a_rs, a_cs, B, ldb, s0, s1, alpha, acc);
  }
}

}  // namespace

template <typename Real>
void small_gemm(Real* C, int64_t ldc, const Real* A, int64_t a_rs, int64_t a_cs, const Real* B,
                int64_t ldb, int64_t M, int64_t N, int64_t K, Real alpha, bool accumulate,
                Tri a_tri, bool lower_out) {
  constexpr int64_t L = kLanes<Real>;
  for (int64_t n0 = 0; n0 < N; n0 += kVecs * L) {
    const int64_t nv_full = std::min<int64_t>(kVecs, (N - n0) / L);
    for (int64_t i0 = 0; i0 < M; i0 += kRows) {
      const int64_t mr = std::min<int64_t>(kRows, M - i0), i_end = i0 + mr;
      int64_t nv = nv_full;
      if (lower_out) {  // columns j <= i_end - 1 are needed
        if (n0 >= i_end) continue;
        nv = std::min(nv, (i_end - n0 + L - 1) / L);
      }
      int64_t s0 = 0, s1 = K;
      if (a_tri == Tri::lower) s1 = std::min(K, i_end);   // A(i, s) = 0 for s > i
      if (a_tri == Tri::upper) s0 = std::min(K, i0);      // A(i, s) = 0 for s < i
      tile_any<Real>(static_cast<int>(mr), static_cast<int>(nv), C + i0 * ldc + n0, ldc,
                     A + i0 * a_rs, a_rs, a_cs, B + n0, ldb, s0, s1, alpha, accumulate);
    }
  }
}

#define FWP_INSTANTIATE(R)                                                                   \
  template void small_gemm<R>(R*, int64_t, const R*, int64_t, int64_t, const R*, int64_t,  \
                              int64_t, int64_t, int64_t, R, bool, Tri, bool);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels::FWP_SIMD_ISA
