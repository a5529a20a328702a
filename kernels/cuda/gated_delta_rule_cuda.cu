// The gated delta rule on the GPU: the twins of gated_delta_rule_forward_cpu /
// gated_delta_rule_backward_cpu (kernels/gated_delta_rule.h has the math and the checkpoints).
// The layout is the delta rule's (kernels/cuda/delta_rule_cuda.cu): rows of W in the registers
// of one warp each, KPL = ceil(Dk / 32) columns per lane (Dk <= 256), kWarps warps of
// R = 32 / KPL rows per block, grid.x over Dv; row dot products are warp reductions.
// The forward writes the checkpoints (the state before steps 0, C, 2C, .., transposed, as the
// CPU kernels do). The backward walks the segments from the last: it re-runs a segment from its
// checkpoint with the forward's arithmetic, each warp storing its rows' states W_{t-1} to the
// workspace (and reading back only what the same lanes wrote, so no barrier is needed there),
// then runs the segment in reverse with W_t in registers. Sums over all rows (dq, dk, dbeta,
// dalpha) are added lane-wise per warp, across warps in shared memory (two barriers per step,
// reached by every thread) and across blocks by a second kernel.
#include <algorithm>

#include "kernels/cuda/check.h"
#include "kernels/cuda/warp_rows.h"
#include "kernels/gated_delta_rule.h"

namespace fwp::kernels {

namespace {

using namespace cuda_rows;  // warp_sum, load_cols, row_dot, load_rows, store_rows, kWarps (warp_rows.h)

// One forward step of row state w: returns d = v_i - alpha p (p = W_{t-1} k); w becomes W_t.
template <typename Real, int KPL>
__device__ __forceinline__ Real gated_step(Real (&w)[KPL], const Real (&kt)[KPL], Real vi,
                                           Real al, Real b) {
  const Real p = row_dot<Real, KPL>(w, kt);
  const Real d = vi - al * p, u = b * d;
#pragma unroll
  for (int c = 0; c < KPL; ++c) w[c] = al * w[c] + u * kt[c];
  return d;
}

template <typename Real, int KPL>
__global__ void __launch_bounds__(kWarps * 32)
    gated_forward_kernel(Real* y, Real* WT, Real* cps, const Real* q, const Real* k,
                         const Real* v, const Real* beta, const Real* alpha, const Real* W0,
                         int64_t T, int64_t Dk, int64_t Dv, int64_t C) {
  constexpr int R = 32 / KPL;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t n = blockIdx.y;
  const int64_t first = int64_t(blockIdx.x) * kWarps * R + warp;
  const int64_t ncp = (T + C - 1) / C;  // gated_delta_rule_checkpoints (host only)
  Real w[R][KPL];
  load_rows(w, W0 == nullptr ? nullptr : W0 + n * Dv * Dk, first, Dk, Dv, lane);
  for (int64_t t = 0; t < T; ++t) {
    const int64_t row = n * T + t;
    Real kt[KPL], qt[KPL];
    load_cols<Real, KPL>(kt, k + row * Dk, Dk, lane);
    load_cols<Real, KPL>(qt, q + row * Dk, Dk, lane);
    const Real b = beta[row], al = alpha[row];
    const bool save = cps != nullptr && t % C == 0;
    Real* cp = save ? cps + (n * ncp + t / C) * Dk * Dv : nullptr;
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int64_t i = first + int64_t(r) * kWarps;
      if (i >= Dv) break;  // warp-uniform
      if (save) {
#pragma unroll
        for (int c = 0; c < KPL; ++c) {
          const int64_t j = lane + 32 * c;
          if (j < Dk) cp[j * Dv + i] = w[r][c];  // transposed: (Dk, Dv)
        }
      }
      gated_step<Real, KPL>(w[r], kt, v[row * Dv + i], al, b);
      const Real yq = row_dot<Real, KPL>(w[r], qt);
      if (lane == 0) y[row * Dv + i] = yq;
    }
  }
  store_rows(WT + n * Dv * Dk, w, first, Dk, Dv, lane);
}

// parts: (BH, blocks, T, 2 Dk + 2) partial sums of dq, dk, dbeta, dalpha.
// states: (BH, Dv, C, Dk), the states W_{t-1} of the current segment.
template <typename Real, int KPL>
__global__ void __launch_bounds__(kWarps * 32)
    gated_backward_kernel(Real* dv, Real* dW0, Real* parts, Real* states, const Real* grad_y,
                          const Real* grad_WT, const Real* q, const Real* k, const Real* v,
                          const Real* beta, const Real* alpha, const Real* cps, int64_t T,
                          int64_t Dk, int64_t Dv, int64_t C) {
  constexpr int R = 32 / KPL;
  extern __shared__ unsigned char smem_raw[];
  Real* red = reinterpret_cast<Real*>(smem_raw);  // (kWarps, 2 Dk + 2)
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t n = blockIdx.y, blocks = gridDim.x, blk = blockIdx.x;
  const int64_t first = blk * kWarps * R + warp;
  const int64_t width = 2 * Dk + 2, ncp = (T + C - 1) / C;
  Real A[R][KPL], W[R][KPL];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t i = first + int64_t(r) * kWarps;
#pragma unroll
    for (int c = 0; c < KPL; ++c) {
      const int64_t j = lane + 32 * c;
      A[r][c] = (grad_WT != nullptr && i < Dv && j < Dk) ? grad_WT[(n * Dv + i) * Dk + j]
                                                         : Real(0);
    }
  }
  for (int64_t s = ncp - 1; s >= 0; --s) {
    const int64_t t0 = s * C, t1 = t0 + C < T ? t0 + C : T;
    // re-run the segment from its checkpoint, keeping W_{t-1} of each step
    const Real* cp = cps + (n * ncp + s) * Dk * Dv;
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int64_t i = first + int64_t(r) * kWarps;
#pragma unroll
      for (int c = 0; c < KPL; ++c) {
        const int64_t j = lane + 32 * c;
        W[r][c] = (i < Dv && j < Dk) ? cp[j * Dv + i] : Real(0);
      }
    }
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t row = n * T + t;
      Real kt[KPL];
      load_cols<Real, KPL>(kt, k + row * Dk, Dk, lane);
      const Real b = beta[row], al = alpha[row];
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const int64_t i = first + int64_t(r) * kWarps;
        if (i >= Dv) break;  // warp-uniform
        Real* st = states + ((n * Dv + i) * C + (t - t0)) * Dk;
#pragma unroll
        for (int c = 0; c < KPL; ++c) {
          const int64_t j = lane + 32 * c;
          if (j < Dk) st[j] = W[r][c];
        }
        gated_step<Real, KPL>(W[r], kt, v[row * Dv + i], al, b);
      }
    }
    // W now holds W_{t1 - 1}; walk the segment in reverse
    for (int64_t t = t1 - 1; t >= t0; --t) {
      const int64_t row = n * T + t;
      Real kt[KPL], qt[KPL], sq[KPL], sk[KPL];
      load_cols<Real, KPL>(kt, k + row * Dk, Dk, lane);
      load_cols<Real, KPL>(qt, q + row * Dk, Dk, lane);
#pragma unroll
      for (int c = 0; c < KPL; ++c) sq[c] = sk[c] = Real(0);
      Real sb = 0, sa = 0;  // sb: the same in every lane; sa: this lane's columns only
      const Real b = beta[row], al = alpha[row];
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const int64_t i = first + int64_t(r) * kWarps;
        if (i >= Dv) break;  // warp-uniform
        const Real* st = states + ((n * Dv + i) * C + (t - t0)) * Dk;
        Real Wp[KPL];
        load_cols<Real, KPL>(Wp, st, Dk, lane);  // W_{t-1}, written by this very lane
        const Real g = grad_y[row * Dv + i];
        const Real d = v[row * Dv + i] - al * row_dot<Real, KPL>(Wp, kt), u = b * d;
        Real part = 0;
#pragma unroll
        for (int c = 0; c < KPL; ++c) {
          A[r][c] += g * qt[c];       // A = dL/dW_t
          sq[c] += W[r][c] * g;       // dq += W_t^T g
          sk[c] += A[r][c] * u;       // dk += A^T u
          part += A[r][c] * kt[c];
        }
        const Real a = warp_sum(part);  // a = A k
        if (lane == 0) dv[row * Dv + i] = b * a;
        sb += a * d;
#pragma unroll
        for (int c = 0; c < KPL; ++c) {
          sk[c] -= al * b * Wp[c] * a;          // dk -= alpha beta W_{t-1}^T a
          const Real ap = A[r][c] - b * a * kt[c];
          sa += ap * Wp[c];                     // dalpha = <A', W_{t-1}>
          A[r][c] = al * ap;                    // dL/dW_{t-1}
          W[r][c] = Wp[c];
        }
      }
      sa = warp_sum(sa);  // every warp reaches this, whatever its rows
#pragma unroll
      for (int c = 0; c < KPL; ++c) {
        const int64_t j = lane + 32 * c;
        if (j < Dk) {
          red[warp * width + j] = sq[c];
          red[warp * width + Dk + j] = sk[c];
        }
      }
      if (lane == 0) {
        red[warp * width + 2 * Dk] = sb;
        red[warp * width + 2 * Dk + 1] = sa;
      }
      __syncthreads();
      for (int64_t e = threadIdx.x; e < width; e += blockDim.x) {
        Real sum = 0;
        for (int w = 0; w < kWarps; ++w) sum += red[w * width + e];
        parts[((n * blocks + blk) * T + t) * width + e] = sum;
      }
      __syncthreads();
    }
  }
  if (dW0 != nullptr) {
    store_rows(dW0 + n * Dv * Dk, A, first, Dk, Dv, lane);
  }
}

template <typename Real>
__global__ void gated_sum_kernel(Real* dq, Real* dk, Real* dbeta, Real* dalpha, const Real* parts,
                                 int64_t BH, int64_t T, int64_t Dk, int64_t blocks) {
  const int64_t width = 2 * Dk + 2, total = BH * T * width;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t x = e % width, row = e / width, t = row % T, n = row / T;
    Real s = 0;
    for (int64_t p = 0; p < blocks; ++p) s += parts[((n * blocks + p) * T + t) * width + x];
    if (x < Dk)
      dq[row * Dk + x] = s;
    else if (x < 2 * Dk)
      dk[row * Dk + x - Dk] = s;
    else if (x == 2 * Dk)
      dbeta[row] = s;
    else
      dalpha[row] = s;
  }
}

int cols_per_lane(int64_t Dk) { return Dk <= 32 ? 1 : Dk <= 64 ? 2 : Dk <= 128 ? 4 : 8; }

int64_t row_blocks(int64_t Dk, int64_t Dv) {
  const int64_t rows = int64_t(kWarps) * (32 / cols_per_lane(Dk));
  return (Dv + rows - 1) / rows;
}

void check_sizes(const char* op, int64_t BH, int64_t T, int64_t Dk, int64_t Dv, int64_t C) {
  FWP_CHECK(Dk >= 1 && Dk <= kGatedDeltaRuleCudaMaxDk && Dv >= 0 && BH >= 0 && T >= 0 &&
                BH <= 65535 && C >= 1,
            op, ": needs 1 <= Dk <= ", kGatedDeltaRuleCudaMaxDk, ", BH <= 65535 and C >= 1, got BH=",
            BH, ", T=", T, ", Dk=", Dk, ", Dv=", Dv, ", C=", C);
}

}  // namespace

template <typename Real>
int64_t gated_delta_rule_workspace_size_cuda(int64_t BH, int64_t T, int64_t Dk, int64_t Dv,
                                             int64_t C) {
  return row_blocks(Dk, Dv) * BH * T * (2 * Dk + 2) + BH * Dv * C * Dk;
}

template <typename Real>
void gated_delta_rule_forward_cuda(Real* y, Real* WT, Real* checkpoints, const Real* q,
                                   const Real* k, const Real* v, const Real* beta,
                                   const Real* alpha, const Real* W0, int64_t BH, int64_t T,
                                   int64_t Dk, int64_t Dv, int64_t C, Real* /*workspace*/) {
  check_sizes("gated_delta_rule_forward_cuda", BH, T, Dk, Dv, C);
  if (BH == 0 || Dv == 0) return;
  const dim3 grid(static_cast<unsigned>(row_blocks(Dk, Dv)), static_cast<unsigned>(BH));
  switch (cols_per_lane(Dk)) {
#define FWP_LAUNCH(KPL)                                                                         \
  gated_forward_kernel<Real, KPL><<<grid, kWarps * 32>>>(y, WT, checkpoints, q, k, v, beta,     \
                                                         alpha, W0, T, Dk, Dv, C);
    case 1: FWP_LAUNCH(1) break;
    case 2: FWP_LAUNCH(2) break;
    case 4: FWP_LAUNCH(4) break;
    default: FWP_LAUNCH(8) break;
#undef FWP_LAUNCH
  }
  FWP_CUDA_CHECK_LAUNCH("gated_delta_rule_forward_cuda");
}

template <typename Real>
void gated_delta_rule_backward_cuda(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dalpha,
                                    Real* dW0, const Real* grad_y, const Real* grad_WT,
                                    const Real* q, const Real* k, const Real* v, const Real* beta,
                                    const Real* alpha, const Real* checkpoints, int64_t BH,
                                    int64_t T, int64_t Dk, int64_t Dv, int64_t C,
                                    Real* workspace) {
  check_sizes("gated_delta_rule_backward_cuda", BH, T, Dk, Dv, C);
  if (BH == 0) return;
  const int64_t blocks = row_blocks(Dk, Dv);
  Real* parts = workspace;
  Real* states = parts + blocks * BH * T * (2 * Dk + 2);
  const dim3 grid(static_cast<unsigned>(blocks), static_cast<unsigned>(BH));
  const size_t smem = sizeof(Real) * kWarps * (2 * Dk + 2);
  if (blocks > 0) switch (cols_per_lane(Dk)) {
#define FWP_LAUNCH(KPL)                                                                        \
  gated_backward_kernel<Real, KPL><<<grid, kWarps * 32, smem>>>(                               \
      dv, dW0, parts, states, grad_y, grad_WT, q, k, v, beta, alpha, checkpoints, T, Dk, Dv, C);
      case 1: FWP_LAUNCH(1) break;
      case 2: FWP_LAUNCH(2) break;
      case 4: FWP_LAUNCH(4) break;
      default: FWP_LAUNCH(8) break;
#undef FWP_LAUNCH
    }
  FWP_CUDA_CHECK_LAUNCH("gated_delta_rule_backward_cuda");
  const int64_t total = BH * T * (2 * Dk + 2);
  const int grid_sum = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>((total + 255) / 256, 4096)));
  gated_sum_kernel<Real><<<grid_sum, 256>>>(dq, dk, dbeta, dalpha, parts, BH, T, Dk, blocks);
  FWP_CUDA_CHECK_LAUNCH("gated_delta_rule_backward_cuda (sum of partials)");
}

#define FWP_INSTANTIATE(R)                                                                       \
  template int64_t gated_delta_rule_workspace_size_cuda<R>(int64_t, int64_t, int64_t, int64_t,  \
                                                           int64_t);                             \
  template void gated_delta_rule_forward_cuda<R>(R*, R*, R*, const R*, const R*, const R*,      \
                                                 const R*, const R*, const R*, int64_t, int64_t, \
                                                 int64_t, int64_t, int64_t, R*);                 \
  template void gated_delta_rule_backward_cuda<R>(R*, R*, R*, R*, R*, R*, const R*, const R*,   \
                                                  const R*, const R*, const R*, const R*,       \
                                                  const R*, const R*, int64_t, int64_t, int64_t, \
                                                  int64_t, int64_t, R*);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
