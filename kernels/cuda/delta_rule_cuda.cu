// The delta rule on the GPU: the twins of delta_rule_forward_cpu / delta_rule_backward_cpu
// (kernels/delta_rule.h has the math, docs/THEORY.md section 7.2 the backward).
//
// Rows of W evolve independently (row i only ever sees v_i, beta and k), so a sequence's state
// is spread over warps by rows: row i of sequence n lives in the registers of one warp for the
// whole sequence, each lane holding the columns j = lane + 32 c (c < KPL, KPL = ceil(Dk / 32) up
// to 8, so Dk <= 256), and the row dot products W_i k and W_i q are warp reductions (shuffles).
// Every Dv works: a block of kWarps warps takes kWarps * R rows (R = 32 / KPL rows per warp,
// interleaved so that small Dv still uses every warp), and grid.x covers Dv in such blocks.
//
// The forward needs nothing else. The backward also keeps A = dL/dW_t for its rows, and three
// results are sums over ALL rows: dq_t = W_t^T g_t, dk_t = A_t^T u_t - beta W_{t-1}^T a_t and
// dbeta_t = a_t . d_t. Each warp sums its own rows lane by lane (every lane owns its columns), the
// warps of a block add theirs in shared memory (two barriers per step, reached by every thread),
// and each block writes one partial per step to the workspace; a second kernel adds the blocks'
// partials. Deterministic: no atomics.
#include <algorithm>

#include "kernels/cuda/check.h"
#include "kernels/cuda/warp_rows.h"
#include "kernels/delta_rule.h"

namespace fwp::kernels {

namespace {

using namespace cuda_rows;  // warp_sum, load_cols, row_dot, load_rows, store_rows, kWarps (warp_rows.h)

template <typename Real, int KPL>
__global__ void __launch_bounds__(kWarps * 32)
    delta_forward_kernel(Real* y, Real* WT, Real* d, const Real* q, const Real* k, const Real* v,
                         const Real* beta, const Real* W0, int64_t T, int64_t Dk, int64_t Dv) {
  constexpr int R = 32 / KPL;  // rows per warp
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t n = blockIdx.y;
  const int64_t first = int64_t(blockIdx.x) * kWarps * R + warp;  // row of r: first + r*kWarps
  Real w[R][KPL];
  load_rows(w, W0 == nullptr ? nullptr : W0 + n * Dv * Dk, first, Dk, Dv, lane);
  for (int64_t t = 0; t < T; ++t) {
    const int64_t row = n * T + t;
    Real kt[KPL], qt[KPL];
    load_cols<Real, KPL>(kt, k + row * Dk, Dk, lane);
    load_cols<Real, KPL>(qt, q + row * Dk, Dk, lane);
    const Real b = beta[row];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int64_t i = first + int64_t(r) * kWarps;
      if (i >= Dv) break;  // the same for every lane of the warp: shuffles stay convergent
      Real part = 0;
#pragma unroll
      for (int c = 0; c < KPL; ++c) part += w[r][c] * kt[c];
      const Real vbar = warp_sum(part);  // W_{t-1} k
      const Real diff = v[row * Dv + i] - vbar, u = b * diff;
      Real yq = 0;
#pragma unroll
      for (int c = 0; c < KPL; ++c) {
        w[r][c] += u * kt[c];
        yq += w[r][c] * qt[c];
      }
      yq = warp_sum(yq);  // W_t q
      if (lane == 0) {
        y[row * Dv + i] = yq;
        if (d != nullptr) d[row * Dv + i] = diff;
      }
    }
  }
  store_rows(WT + n * Dv * Dk, w, first, Dk, Dv, lane);
}

// Partials: pq, pk are (BH, blocks, T, Dk), pb is (BH, blocks, T).
template <typename Real, int KPL>
__global__ void __launch_bounds__(kWarps * 32)
    delta_backward_kernel(Real* dv, Real* dW0, Real* pq, Real* pk, Real* pb, const Real* grad_y,
                          const Real* grad_WT, const Real* q, const Real* k, const Real* beta,
                          const Real* d, const Real* WT, int64_t T, int64_t Dk, int64_t Dv) {
  constexpr int R = 32 / KPL;  // rows per warp
  extern __shared__ unsigned char smem_raw[];
  Real* red = reinterpret_cast<Real*>(smem_raw);  // (kWarps, 2 * Dk + 1)
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t n = blockIdx.y, blocks = gridDim.x, blk = blockIdx.x;
  const int64_t first = blk * kWarps * R + warp;
  const int64_t width = 2 * Dk + 1;
  Real W[R][KPL], A[R][KPL];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t i = first + int64_t(r) * kWarps;
#pragma unroll
    for (int c = 0; c < KPL; ++c) {
      const int64_t j = lane + 32 * c;
      const bool in = i < Dv && j < Dk;
      W[r][c] = in ? WT[(n * Dv + i) * Dk + j] : Real(0);
      A[r][c] = (in && grad_WT != nullptr) ? grad_WT[(n * Dv + i) * Dk + j] : Real(0);
    }
  }
  for (int64_t t = T - 1; t >= 0; --t) {
    const int64_t row = n * T + t;
    Real kt[KPL], qt[KPL], sq[KPL], sk[KPL];
    load_cols<Real, KPL>(kt, k + row * Dk, Dk, lane);
    load_cols<Real, KPL>(qt, q + row * Dk, Dk, lane);
#pragma unroll
    for (int c = 0; c < KPL; ++c) sq[c] = sk[c] = Real(0);
    Real sb = 0;
    const Real b = beta[row];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int64_t i = first + int64_t(r) * kWarps;
      if (i >= Dv) break;  // warp-uniform
      const Real g = grad_y != nullptr ? grad_y[row * Dv + i] : Real(0);
      const Real di = d[row * Dv + i], u = b * di;
      Real part = 0;
#pragma unroll
      for (int c = 0; c < KPL; ++c) {
        A[r][c] += g * qt[c];      // A = dL/dW_t
        sq[c] += W[r][c] * g;      // dq += W_t^T g
        sk[c] += A[r][c] * u;      // dk += A^T u
        part += A[r][c] * kt[c];
      }
      const Real a = warp_sum(part);  // a = A k
      if (lane == 0) dv[row * Dv + i] = b * a;
      sb += a * di;
#pragma unroll
      for (int c = 0; c < KPL; ++c) {
        W[r][c] -= u * kt[c];            // W = W_{t-1}
        sk[c] -= b * W[r][c] * a;        // dk -= beta W_{t-1}^T a
        A[r][c] -= b * a * kt[c];        // A = dL/dW_{t-1}
      }
    }
    // the block's warps add their rows' sums: every thread reaches both barriers
#pragma unroll
    for (int c = 0; c < KPL; ++c) {
      const int64_t j = lane + 32 * c;
      if (j < Dk) {
        red[warp * width + j] = sq[c];
        red[warp * width + Dk + j] = sk[c];
      }
    }
    if (lane == 0) red[warp * width + 2 * Dk] = sb;
    __syncthreads();
    for (int64_t e = threadIdx.x; e < width; e += blockDim.x) {
      Real s = 0;
      for (int w = 0; w < kWarps; ++w) s += red[w * width + e];
      const int64_t slot = (n * blocks + blk) * T + t;
      if (e < Dk)
        pq[slot * Dk + e] = s;
      else if (e < 2 * Dk)
        pk[slot * Dk + (e - Dk)] = s;
      else
        pb[slot] = s;
    }
    __syncthreads();
  }
  store_rows(dW0 + n * Dv * Dk, A, first, Dk, Dv, lane);
}

// dq[n, t, :] = sum over blocks of pq[n, block, t, :]; likewise dk and dbeta.
template <typename Real>
__global__ void delta_backward_sum_kernel(Real* dq, Real* dk, Real* dbeta, const Real* pq,
                                          const Real* pk, const Real* pb, int64_t BH, int64_t T,
                                          int64_t Dk, int64_t blocks) {
  const int64_t total = BH * T * (Dk + 1);
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    if (e < BH * T * Dk) {
      const int64_t j = e % Dk, row = e / Dk, t = row % T, n = row / T;
      Real sq = 0, sk = 0;
      for (int64_t p = 0; p < blocks; ++p) {
        const int64_t slot = (n * blocks + p) * T + t;
        sq += pq[slot * Dk + j];
        sk += pk[slot * Dk + j];
      }
      dq[e] = sq;
      dk[e] = sk;
    } else {
      const int64_t row = e - BH * T * Dk, t = row % T, n = row / T;
      Real sb = 0;
      for (int64_t p = 0; p < blocks; ++p) sb += pb[(n * blocks + p) * T + t];
      dbeta[row] = sb;
    }
  }
}

int cols_per_lane(int64_t Dk) { return Dk <= 32 ? 1 : Dk <= 64 ? 2 : Dk <= 128 ? 4 : 8; }

int64_t row_blocks(int64_t Dk, int64_t Dv) {
  const int64_t rows = int64_t(kWarps) * (32 / cols_per_lane(Dk));
  return (Dv + rows - 1) / rows;
}

void check_sizes(const char* op, int64_t BH, int64_t T, int64_t Dk, int64_t Dv) {
  FWP_CHECK(Dk >= 1 && Dk <= kDeltaRuleCudaMaxDk && Dv >= 0 && BH >= 0 && T >= 0 &&
                BH <= 65535,
            op, ": needs 1 <= Dk <= ", kDeltaRuleCudaMaxDk, " and BH <= 65535, got BH=",
            BH, ", T=", T, ", Dk=", Dk, ", Dv=", Dv);
}

}  // namespace

template <typename Real>
int64_t delta_rule_workspace_size_cuda(int64_t BH, int64_t T, int64_t Dk, int64_t Dv) {
  return row_blocks(Dk, Dv) * BH * T * (2 * Dk + 1);
}

template <typename Real>
void delta_rule_forward_cuda(Real* y, Real* WT, Real* d, const Real* q, const Real* k,
                             const Real* v, const Real* beta, const Real* W0, int64_t BH,
                             int64_t T, int64_t Dk, int64_t Dv, Real* /*workspace*/) {
  check_sizes("delta_rule_forward_cuda", BH, T, Dk, Dv);
  if (BH == 0 || Dv == 0) return;
  const dim3 grid(static_cast<unsigned>(row_blocks(Dk, Dv)), static_cast<unsigned>(BH));
  const dim3 block(kWarps * 32);
  switch (cols_per_lane(Dk)) {
    case 1: delta_forward_kernel<Real, 1><<<grid, block>>>(y, WT, d, q, k, v, beta, W0, T, Dk, Dv); break;
    case 2: delta_forward_kernel<Real, 2><<<grid, block>>>(y, WT, d, q, k, v, beta, W0, T, Dk, Dv); break;
    case 4: delta_forward_kernel<Real, 4><<<grid, block>>>(y, WT, d, q, k, v, beta, W0, T, Dk, Dv); break;
    default: delta_forward_kernel<Real, 8><<<grid, block>>>(y, WT, d, q, k, v, beta, W0, T, Dk, Dv); break;
  }
  FWP_CUDA_CHECK_LAUNCH("delta_rule_forward_cuda");
}

template <typename Real>
void delta_rule_backward_cuda(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                              const Real* grad_y, const Real* grad_WT, const Real* q,
                              const Real* k, const Real* beta, const Real* d, const Real* WT,
                              int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* workspace) {
  check_sizes("delta_rule_backward_cuda", BH, T, Dk, Dv);
  if (BH == 0) return;
  const int64_t blocks = row_blocks(Dk, Dv);
  Real* pq = workspace;
  Real* pk = pq + blocks * BH * T * Dk;
  Real* pb = pk + blocks * BH * T * Dk;
  const dim3 grid(static_cast<unsigned>(blocks), static_cast<unsigned>(BH));
  const dim3 block(kWarps * 32);
  const size_t smem = sizeof(Real) * kWarps * (2 * Dk + 1);
  if (blocks > 0) switch (cols_per_lane(Dk)) {
#define FWP_LAUNCH(KPL)                                                                       \
  delta_backward_kernel<Real, KPL><<<grid, block, smem>>>(dv, dW0, pq, pk, pb, grad_y, grad_WT, \
                                                          q, k, beta, d, WT, T, Dk, Dv);
    case 1: FWP_LAUNCH(1) break;
    case 2: FWP_LAUNCH(2) break;
    case 4: FWP_LAUNCH(4) break;
    default: FWP_LAUNCH(8) break;
#undef FWP_LAUNCH
  }
  FWP_CUDA_CHECK_LAUNCH("delta_rule_backward_cuda");
  const int64_t total = BH * T * (Dk + 1);
  const int threads = 256;
  const int grid_sum = static_cast<int>(std::min<int64_t>((total + threads - 1) / threads, 4096));
  delta_backward_sum_kernel<Real><<<std::max(grid_sum, 1), threads>>>(dq, dk, dbeta, pq, pk, pb,
                                                                      BH, T, Dk, blocks);
  FWP_CUDA_CHECK_LAUNCH("delta_rule_backward_cuda (sum of partials)");
}

#define FWP_INSTANTIATE(R)                                                                      \
  template int64_t delta_rule_workspace_size_cuda<R>(int64_t, int64_t, int64_t, int64_t);      \
  template void delta_rule_forward_cuda<R>(R*, R*, R*, const R*, const R*, const R*, const R*, \
                                           const R*, int64_t, int64_t, int64_t, int64_t, R*);  \
  template void delta_rule_backward_cuda<R>(R*, R*, R*, R*, R*, const R*, const R*, const R*,  \
                                            const R*, const R*, const R*, const R*, int64_t,   \
                                            int64_t, int64_t, int64_t, R*);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
