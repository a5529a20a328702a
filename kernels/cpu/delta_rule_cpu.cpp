// Delta-rule kernels (math in kernels/delta_rule.h): the forward, and the workspace both need;
// the backward is delta_rule_backward_cpu.cpp. The state of a sequence stays in L1 for the whole
// time loop, and each kernel uses the orientation that makes its hot loop unit-stride,
// whole-vector and free of horizontal sums, touching every row of state once per pass:
//   forward:  S = W^T (Dk rows of Dv). W k and W q are sums of rows (sum_j k_j S_j); the writes
//             of two steps are fused with the reads of the next two. The rows of W evolve
//             independently, so each block of at most 64 of them (f32) is its own OpenMP task.
//   backward: W and A = dL/dW (Dv rows of Dk), see delta_rule_backward_cpu.cpp.
// Tasks are handed to threads one at a time (dynamic schedule), so a thread slowed down by other
// work on the machine does not hold up the rest. The naive twins (delta_rule_naive.cpp) are the
// math of docs/THEORY.md section 7.2 as plain loops.
#include "kernels/delta_rule.h"

#include <omp.h>

#include <algorithm>

#include "kernels/cpu/delta_rule_workspace.h"
#include "kernels/cpu/fast_weight_state.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/simd_kernels.h"

namespace fwp::kernels::FWP_SIMD_ISA {

template <typename Real>
int64_t delta_rule_workspace_size(int64_t BH, int64_t Dk, int64_t Dv) {
  return team_size(BH * forward_blocks<Real>(Dv)) * slice_size<Real>(Dk, Dv);
}

namespace {

// Steps per pass over S (M) and independent accumulator sets (R) for rows of NV vectors: two
// steps per pass halve the loads and stores of S while the accumulators (2 M R NV vectors) still
// fit in 32 registers; with 16 (AVX2, SSE2) they do not, and one step per pass measured 10-20%
// faster on an AMD Zen 4 (docs/RESULTS.md, "SIMD kernels on every instruction set"). R > 1 hides
// the FMA latency when a row is a single vector.
constexpr int kStepsPerPass = kVecRegisters >= 32 ? 2 : 1;
template <int NV> constexpr int kAccSets = NV == 1 ? 2 : 1;

// One pass over S (rows j of nv vectors) for M steps: the writes S_j += sum_m kc[m][j] u_m, each
// rounded in turn as separate steps would be, then the reads of the next steps,
// acc_k[m] += kn[m][j] S_j and acc_q[m] += qn[m][j] S_j (R partial sums each, at [(m R + r) nv]).
template <typename Real, int NV, int M>
void pass_over_state(Vec<Real>* __restrict S, const Vec<Real>* __restrict u,
                     const Real* const* kc, const Real* const* kn, const Real* const* qn,
                     Vec<Real>* __restrict acc_k, Vec<Real>* __restrict acc_q, int64_t Dk,
                     int64_t nv) {
  using V = Vec<Real>;
  constexpr int R = kAccSets<NV>;
  for (int64_t c = 0; c < M * R * nv; ++c) acc_k[c] = acc_q[c] = V{};
  auto row = [&](int64_t j, int r) {
    for (int64_t c = 0; c < nv; ++c) {
      V s = S[j * nv + c];
      for (int m = 0; m < M; ++m) s += kc[m][j] * u[m * nv + c];
      S[j * nv + c] = s;
      for (int m = 0; m < M; ++m) {
        acc_k[(m * R + r) * nv + c] += kn[m][j] * s;
        acc_q[(m * R + r) * nv + c] += qn[m][j] * s;
      }
    }
  };
  int64_t j = 0;
  for (; j + R <= Dk; j += R)
    for (int r = 0; r < R; ++r) row(j + r, r);
  for (; j < Dk; ++j) row(j, 0);
}

// One sequence of the forward, for a block of Dv rows of W (v, y, d rows have stride ldv);
// NV = vectors per row of S (Dv padded). Steps go in blocks of M; at the start of a block the
// accumulators hold W_{t-1} k_{t+m} and W_{t-1} q_{t+m} for its steps m, and the earlier steps of
// the block are added analytically:
//   vbar_{t+m} = W_{t-1} k_{t+m} + sum_{m' < m} (k_{t+m'} . k_{t+m}) u_{t+m'}
//   y_{t+m}    = W_{t-1} q_{t+m} + sum_{m' <= m} (k_{t+m'} . q_{t+m}) u_{t+m'}
template <typename Real, int NV>
void forward_sequence(Real* __restrict y, Real* __restrict WT, Real* __restrict d_out,
                      const Real* __restrict q, const Real* __restrict k,
                      const Real* __restrict v, const Real* __restrict beta,
                      const Real* __restrict W0, int64_t T, int64_t Dk, int64_t Dv, int64_t ldv,
                      Real* __restrict ws) {
  using V = Vec<Real>;
  constexpr int M = kStepsPerPass, R = kAccSets<NV>;
  constexpr int64_t nv = NV;
  V* __restrict S = reinterpret_cast<V*>(ws);  // row j of S = column j of W: S[j * nv + c]
  V local[(2 * M * R + M + 2) * NV];
  V* acc_k = local;
  V* acc_q = acc_k + M * R * nv;
  V* u = acc_q + M * R * nv;  // u of the M steps of a block
  V* out = u + M * nv;        // y, then v - vbar, of one step
  load_transposed(S, W0, Dk, Dv);
  auto rows_at = [&](const Real* x, int64_t t0, const Real** p) {  // rows t0.. of x, clamped
    for (int m = 0; m < M; ++m) p[m] = x + std::min(t0 + m, T - 1) * Dk;
  };
  const Real *kc[M], *kn[M], *qn[M];
  if (T > 0) {  // the reads of the first block: a pass that writes zero updates
    for (int64_t c = 0; c < M * nv; ++c) u[c] = V{};
    rows_at(k, 0, kc);
    rows_at(k, 0, kn);
    rows_at(q, 0, qn);
    pass_over_state<Real, NV, M>(S, u, kc, kn, qn, acc_k, acc_q, Dk, nv);
  }
  for (int64_t t0 = 0; t0 < T; t0 += M) {
    const int mm = static_cast<int>(std::min<int64_t>(M, T - t0));  // steps in this block
    for (int m = 0; m < mm; ++m) {
      const int64_t t = t0 + m;
      Real kk[M], kq[M];  // k_{t0+m'} . k_t and k_{t0+m'} . q_t
      for (int mp = 0; mp <= m; ++mp) {
        kk[mp] = mp < m ? dot(k + (t0 + mp) * Dk, k + t * Dk, Dk) : Real(0);
        kq[mp] = dot(k + (t0 + mp) * Dk, q + t * Dk, Dk);
      }
      load_row(out, v + t * ldv, Dv);
      for (int64_t c = 0; c < nv; ++c) {
        V vbar = acc_k[m * R * nv + c], wq = acc_q[m * R * nv + c];
        for (int r = 1; r < R; ++r) {
          vbar += acc_k[(m * R + r) * nv + c];
          wq += acc_q[(m * R + r) * nv + c];
        }
        for (int mp = 0; mp < m; ++mp) {
          vbar += kk[mp] * u[mp * nv + c];
          wq += kq[mp] * u[mp * nv + c];
        }
        const V diff = out[c] - vbar;  // v_t - vbar_t
        u[m * nv + c] = beta[t] * diff;
        out[c] = wq + kq[m] * u[m * nv + c];
        out[nv + c] = diff;
      }
      store_row(y + t * ldv, out, Dv);
      if (d_out) store_row(d_out + t * ldv, out + nv, Dv);
    }
    // one pass over S: the writes of this block, then the reads of the next
    rows_at(k, t0, kc);
    rows_at(k, t0 + M, kn);
    rows_at(q, t0 + M, qn);
    if (mm == M) {
      pass_over_state<Real, NV, M>(S, u, kc, kn, qn, acc_k, acc_q, Dk, nv);
    } else {
      pass_over_state<Real, NV, 1>(S, u, kc, kn, qn, acc_k, acc_q, Dk, nv);
    }
  }
  store_transposed(WT, S, Dk, Dv);
}

}  // namespace

template <typename Real>
void delta_rule_forward_cpu(Real* y, Real* WT, Real* d, const Real* q, const Real* k,
                            const Real* v, const Real* beta, const Real* W0, int64_t BH,
                            int64_t T, int64_t Dk, int64_t Dv, Real* workspace) {
  const int64_t slice = slice_size<Real>(Dk, Dv), nb = forward_blocks<Real>(Dv);
  constexpr int64_t kCols = kForwardBlockVecs * kLanes<Real>;
#pragma omp parallel num_threads(team_size(BH * nb))
  {
    Real* ws = workspace + omp_get_thread_num() * slice;
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < BH * nb; ++task) {
      const int64_t n = task / nb, c0 = (task % nb) * kCols, cols = std::min(kCols, Dv - c0);
      with_block_vec_count<kForwardBlockVecs>(vec_count<Real>(cols), [&](auto nv) {
        forward_sequence<Real, decltype(nv)::value>(
            y + n * T * Dv + c0, WT + (n * Dv + c0) * Dk, d ? d + n * T * Dv + c0 : nullptr,
            q + n * T * Dk, k + n * T * Dk, v + n * T * Dv + c0, beta + n * T,
            W0 ? W0 + (n * Dv + c0) * Dk : nullptr, T, Dk, cols, Dv, ws);
      });
    }
  }
}

#define FWP_INSTANTIATE(R)                                                                      \
  template int64_t delta_rule_workspace_size<R>(int64_t, int64_t, int64_t);                   \
  template void delta_rule_forward_cpu<R>(R*, R*, R*, const R*, const R*, const R*,           \
                                          const R*, const R*, int64_t, int64_t, int64_t,      \
                                          int64_t, R*);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels::FWP_SIMD_ISA
