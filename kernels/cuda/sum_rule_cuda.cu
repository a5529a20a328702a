// The sum rule (linear attention) on the GPU: the twins of sum_rule_forward_cpu /
// sum_rule_backward_cpu (kernels/sum_rule.h has the math and the recomputing backward).
// The layout is the delta rule's (kernels/cuda/delta_rule_cuda.cu): rows of W in the registers
// of one warp each for the whole sequence, KPL = ceil(Dk / 32) columns per lane (Dk <= 256),
// row dot products as warp reductions, kWarps warps of R = 32 / KPL rows per block, grid.x over
// Dv. The normaliser z (Dk) and its gradient Z are shared by all rows: every warp keeps its own
// copy (Dk / 32 values per lane), which costs less than sharing it. Sums over all rows (dq =
// W_t^T gh_t, dk = A_t^T v_t) are added lane-wise per warp, across warps in shared memory (two
// barriers per step, reached by every thread) and across blocks by a second kernel; block 0 adds
// the rows-independent terms c_t z_t and Z_t once.
#include <algorithm>

#include "kernels/cuda/check.h"
#include "kernels/cuda/warp_rows.h"
#include "kernels/sum_rule.h"

namespace fwp::kernels {

namespace {

using namespace cuda_rows;  // warp_sum, load_cols, row_dot, load_rows, store_rows, kWarps (warp_rows.h)

// gh scale and c of row `row`: 1 / den and -(g . y) / den (1 and 0 without normalisation); the
// dot over Dv is split over the lanes of the warp.
template <typename Real>
__device__ __forceinline__ void grad_scale(Real& inv, Real& c, const Real* grad_y, const Real* y,
                                           const Real* den, bool normalize, int64_t row,
                                           int64_t Dv, int lane) {
  if (!normalize) {
    inv = Real(1);
    c = Real(0);
    return;
  }
  Real part = 0;
  for (int64_t i = lane; i < Dv; i += 32) part += grad_y[row * Dv + i] * y[row * Dv + i];
  const Real gy = warp_sum(part);
  inv = Real(1) / den[row];
  c = -gy * inv;
}

// Adds vals over the warps of the block and writes the sum to out[0..Dk). Every thread of the
// block must call it (it holds two barriers).
template <typename Real, int KPL>
__device__ __forceinline__ void block_sum_to(Real* out, Real* red, const Real (&vals)[KPL],
                                             int64_t Dk, int lane, int warp) {
#pragma unroll
  for (int c = 0; c < KPL; ++c) {
    const int64_t j = lane + 32 * c;
    if (j < Dk) red[warp * Dk + j] = vals[c];
  }
  __syncthreads();
  for (int64_t j = threadIdx.x; j < Dk; j += blockDim.x) {
    Real s = 0;
    for (int w = 0; w < kWarps; ++w) s += red[w * Dk + j];
    out[j] = s;
  }
  __syncthreads();
}

template <typename Real, int KPL>
__global__ void __launch_bounds__(kWarps * 32)
    sum_forward_kernel(Real* y, Real* WT, Real* zT, Real* den, const Real* q, const Real* k,
                       const Real* v, const Real* W0, const Real* z0, bool normalize, Real eps,
                       int64_t T, int64_t Dk, int64_t Dv) {
  constexpr int R = 32 / KPL;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t n = blockIdx.y;
  const int64_t first = int64_t(blockIdx.x) * kWarps * R + warp;
  const bool leader = blockIdx.x == 0 && warp == 0;  // writes the row-independent outputs
  Real w[R][KPL], z[KPL];
#pragma unroll
  for (int c = 0; c < KPL; ++c) {
    const int64_t j = lane + 32 * c;
    z[c] = (z0 != nullptr && j < Dk) ? z0[n * Dk + j] : Real(0);
  }
  load_rows(w, W0 == nullptr ? nullptr : W0 + n * Dv * Dk, first, Dk, Dv, lane);
  for (int64_t t = 0; t < T; ++t) {
    const int64_t row = n * T + t;
    Real kt[KPL], qt[KPL];
    load_cols<Real, KPL>(kt, k + row * Dk, Dk, lane);
    load_cols<Real, KPL>(qt, q + row * Dk, Dk, lane);
    Real dn = Real(1);
    if (normalize) {
      Real part = 0;
#pragma unroll
      for (int c = 0; c < KPL; ++c) {
        z[c] += kt[c];
        part += z[c] * qt[c];
      }
      dn = warp_sum(part) + eps;
      if (leader && lane == 0 && den != nullptr) den[row] = dn;
    } else {
#pragma unroll
      for (int c = 0; c < KPL; ++c) z[c] += kt[c];
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int64_t i = first + int64_t(r) * kWarps;
      if (i >= Dv) break;  // warp-uniform
      const Real vi = v[row * Dv + i];
      Real part = 0;
#pragma unroll
      for (int c = 0; c < KPL; ++c) {
        w[r][c] += vi * kt[c];
        part += w[r][c] * qt[c];
      }
      const Real yq = warp_sum(part);
      if (lane == 0) y[row * Dv + i] = yq / dn;
    }
  }
  store_rows(WT + n * Dv * Dk, w, first, Dk, Dv, lane);
  if (leader) {
#pragma unroll
    for (int c = 0; c < KPL; ++c) {
      const int64_t j = lane + 32 * c;
      if (j < Dk) zT[n * Dk + j] = z[c];
    }
  }
}

// pq, pk: (BH, blocks, T, Dk) partial sums of dq and dk.
template <typename Real, int KPL>
__global__ void __launch_bounds__(kWarps * 32)
    sum_backward_kernel(Real* dv, Real* dW0, Real* dz0, Real* pq, Real* pk, const Real* grad_y,
                        const Real* grad_WT, const Real* grad_zT, const Real* q, const Real* k,
                        const Real* v, const Real* W0, const Real* z0, const Real* y,
                        const Real* den, bool normalize, int64_t T, int64_t Dk, int64_t Dv) {
  constexpr int R = 32 / KPL;
  extern __shared__ unsigned char smem_raw[];
  Real* red = reinterpret_cast<Real*>(smem_raw);  // (kWarps, Dk)
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t n = blockIdx.y, blocks = gridDim.x, blk = blockIdx.x;
  const int64_t first = blk * kWarps * R + warp;
  const bool leader = blk == 0 && warp == 0;
  Real S[R][KPL], z[KPL];  // S is W_t in the forward sweep, A_t in the reverse one
#pragma unroll
  for (int c = 0; c < KPL; ++c) {
    const int64_t j = lane + 32 * c;
    z[c] = (z0 != nullptr && j < Dk) ? z0[n * Dk + j] : Real(0);
  }
  load_rows(S, W0 == nullptr ? nullptr : W0 + n * Dv * Dk, first, Dk, Dv, lane);
  // forward sweep: dq_t = W_t^T gh_t + c_t z_t
  for (int64_t t = 0; t < T; ++t) {
    const int64_t row = n * T + t;
    Real kt[KPL], acc[KPL];
    load_cols<Real, KPL>(kt, k + row * Dk, Dk, lane);
    Real inv, cc;
    grad_scale(inv, cc, grad_y, y, den, normalize, row, Dv, lane);
#pragma unroll
    for (int c = 0; c < KPL; ++c) {
      z[c] += kt[c];
      acc[c] = leader ? cc * z[c] : Real(0);
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int64_t i = first + int64_t(r) * kWarps;
      if (i >= Dv) break;  // warp-uniform
      const Real vi = v[row * Dv + i], gh = grad_y[row * Dv + i] * inv;
#pragma unroll
      for (int c = 0; c < KPL; ++c) {
        S[r][c] += vi * kt[c];
        acc[c] += S[r][c] * gh;
      }
    }
    block_sum_to<Real, KPL>(pq + ((n * blocks + blk) * T + t) * Dk, red, acc, Dk, lane, warp);
  }
  // reverse sweep: A += gh q^T;  Z += c q;  dk = A^T v + Z;  dv = A k
  Real Z[KPL];
#pragma unroll
  for (int c = 0; c < KPL; ++c) {
    const int64_t j = lane + 32 * c;
    Z[c] = (grad_zT != nullptr && j < Dk) ? grad_zT[n * Dk + j] : Real(0);
  }
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t i = first + int64_t(r) * kWarps;
#pragma unroll
    for (int c = 0; c < KPL; ++c) {
      const int64_t j = lane + 32 * c;
      S[r][c] = (grad_WT != nullptr && i < Dv && j < Dk) ? grad_WT[(n * Dv + i) * Dk + j]
                                                         : Real(0);
    }
  }
  for (int64_t t = T - 1; t >= 0; --t) {
    const int64_t row = n * T + t;
    Real kt[KPL], qt[KPL], acc[KPL];
    load_cols<Real, KPL>(kt, k + row * Dk, Dk, lane);
    load_cols<Real, KPL>(qt, q + row * Dk, Dk, lane);
    Real inv, cc;
    grad_scale(inv, cc, grad_y, y, den, normalize, row, Dv, lane);
#pragma unroll
    for (int c = 0; c < KPL; ++c) {
      Z[c] += cc * qt[c];
      acc[c] = leader ? Z[c] : Real(0);
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int64_t i = first + int64_t(r) * kWarps;
      if (i >= Dv) break;  // warp-uniform
      const Real vi = v[row * Dv + i], gh = grad_y[row * Dv + i] * inv;
      Real part = 0;
#pragma unroll
      for (int c = 0; c < KPL; ++c) {
        S[r][c] += gh * qt[c];
        acc[c] += S[r][c] * vi;
        part += S[r][c] * kt[c];
      }
      const Real a = warp_sum(part);
      if (lane == 0) dv[row * Dv + i] = a;
    }
    block_sum_to<Real, KPL>(pk + ((n * blocks + blk) * T + t) * Dk, red, acc, Dk, lane, warp);
  }
  store_rows(dW0 + n * Dv * Dk, S, first, Dk, Dv, lane);
  if (leader) {
#pragma unroll
    for (int c = 0; c < KPL; ++c) {
      const int64_t j = lane + 32 * c;
      if (j < Dk) dz0[n * Dk + j] = Z[c];
    }
  }
}

// out[n, t, :] = sum over blocks p of parts[n, p, t, :]
template <typename Real>
__global__ void sum_partials_kernel(Real* out, const Real* parts, int64_t BH, int64_t T,
                                    int64_t Dk, int64_t blocks) {
  const int64_t total = BH * T * Dk;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % Dk, row = e / Dk, t = row % T, n = row / T;
    Real s = 0;
    for (int64_t p = 0; p < blocks; ++p) s += parts[((n * blocks + p) * T + t) * Dk + j];
    out[e] = s;
  }
}

int cols_per_lane(int64_t Dk) { return Dk <= 32 ? 1 : Dk <= 64 ? 2 : Dk <= 128 ? 4 : 8; }

// At least one block, so that the Dk-sized results (z_T, dq, dk, dz0) exist when Dv == 0.
int64_t row_blocks(int64_t Dk, int64_t Dv) {
  const int64_t rows = int64_t(kWarps) * (32 / cols_per_lane(Dk));
  return std::max<int64_t>(1, (Dv + rows - 1) / rows);
}

void check_sizes(const char* op, int64_t BH, int64_t T, int64_t Dk, int64_t Dv) {
  FWP_CHECK(Dk >= 1 && Dk <= kSumRuleCudaMaxDk && Dv >= 0 && BH >= 0 && T >= 0 && BH <= 65535,
            op, ": needs 1 <= Dk <= ", kSumRuleCudaMaxDk, " and BH <= 65535, got BH=", BH,
            ", T=", T, ", Dk=", Dk, ", Dv=", Dv);
}

void sum_launch_config(int64_t total, int& grid, int& threads) {
  threads = 256;
  grid = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>((total + 255) / 256, 4096)));
}

}  // namespace

template <typename Real>
int64_t sum_rule_workspace_size_cuda(int64_t BH, int64_t T, int64_t Dk, int64_t Dv) {
  return 2 * row_blocks(Dk, Dv) * BH * T * Dk;
}

template <typename Real>
void sum_rule_forward_cuda(Real* y, Real* WT, Real* zT, Real* den, const Real* q, const Real* k,
                           const Real* v, const Real* W0, const Real* z0, bool normalize, Real eps,
                           int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* /*workspace*/) {
  check_sizes("sum_rule_forward_cuda", BH, T, Dk, Dv);
  if (BH == 0) return;
  const dim3 grid(static_cast<unsigned>(row_blocks(Dk, Dv)), static_cast<unsigned>(BH));
  const dim3 block(kWarps * 32);
  switch (cols_per_lane(Dk)) {
#define FWP_LAUNCH(KPL)                                                                      \
  sum_forward_kernel<Real, KPL><<<grid, block>>>(y, WT, zT, den, q, k, v, W0, z0, normalize, \
                                                 eps, T, Dk, Dv);
    case 1: FWP_LAUNCH(1) break;
    case 2: FWP_LAUNCH(2) break;
    case 4: FWP_LAUNCH(4) break;
    default: FWP_LAUNCH(8) break;
#undef FWP_LAUNCH
  }
  FWP_CUDA_CHECK_LAUNCH("sum_rule_forward_cuda");
}

template <typename Real>
void sum_rule_backward_cuda(Real* dq, Real* dk, Real* dv, Real* dW0, Real* dz0,
                            const Real* grad_y, const Real* grad_WT, const Real* grad_zT,
                            const Real* q, const Real* k, const Real* v, const Real* W0,
                            const Real* z0, const Real* y, const Real* den, bool normalize,
                            int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* workspace) {
  check_sizes("sum_rule_backward_cuda", BH, T, Dk, Dv);
  if (BH == 0) return;
  const int64_t blocks = row_blocks(Dk, Dv);
  Real* pq = workspace;
  Real* pk = pq + blocks * BH * T * Dk;
  const dim3 grid(static_cast<unsigned>(blocks), static_cast<unsigned>(BH));
  const dim3 block(kWarps * 32);
  const size_t smem = sizeof(Real) * kWarps * Dk;
  switch (cols_per_lane(Dk)) {
#define FWP_LAUNCH(KPL)                                                                          \
  sum_backward_kernel<Real, KPL><<<grid, block, smem>>>(dv, dW0, dz0, pq, pk, grad_y, grad_WT,   \
                                                        grad_zT, q, k, v, W0, z0, y, den,        \
                                                        normalize, T, Dk, Dv);
    case 1: FWP_LAUNCH(1) break;
    case 2: FWP_LAUNCH(2) break;
    case 4: FWP_LAUNCH(4) break;
    default: FWP_LAUNCH(8) break;
#undef FWP_LAUNCH
  }
  FWP_CUDA_CHECK_LAUNCH("sum_rule_backward_cuda");
  int g = 1, th = 256;
  sum_launch_config(BH * T * Dk, g, th);
  sum_partials_kernel<Real><<<g, th>>>(dq, pq, BH, T, Dk, blocks);
  FWP_CUDA_CHECK_LAUNCH("sum_rule_backward_cuda (dq partials)");
  sum_partials_kernel<Real><<<g, th>>>(dk, pk, BH, T, Dk, blocks);
  FWP_CUDA_CHECK_LAUNCH("sum_rule_backward_cuda (dk partials)");
}

#define FWP_INSTANTIATE(R)                                                                       \
  template int64_t sum_rule_workspace_size_cuda<R>(int64_t, int64_t, int64_t, int64_t);         \
  template void sum_rule_forward_cuda<R>(R*, R*, R*, R*, const R*, const R*, const R*, const R*, \
                                         const R*, bool, R, int64_t, int64_t, int64_t, int64_t, \
                                         R*);                                                    \
  template void sum_rule_backward_cuda<R>(R*, R*, R*, R*, R*, const R*, const R*, const R*,      \
                                          const R*, const R*, const R*, const R*, const R*,      \
                                          const R*, const R*, bool, int64_t, int64_t, int64_t,   \
                                          int64_t, R*);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
