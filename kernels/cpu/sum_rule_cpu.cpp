// Sum-rule kernels (math in kernels/sum_rule.h); same plan as delta_rule_cpu.cpp: OpenMP tasks
// (dynamic schedule), state in L1 (forward: column blocks as tasks; backward: row blocks in
// turn), whole-vector unit-stride loops, each row of state touched once per step.
//   forward:           S = W^T (Dk rows of Dv); the write S_j += k_{t,j} v_t is fused with the
//                      read of step t+1, W_t q_{t+1} = sum_j q_{t+1,j} S_j.
//   backward sweep 1:  W (Dv rows of Dk) rebuilt from W_0 forwards: W_i += v_i k; dq += gh_i W_i.
//   backward sweep 2:  A = dL/dW_t (Dv rows of Dk) backwards: A_i += gh_i q; dk += v_i A_i;
//                      dv_i = A_i . k.
// with gh_t = g_t / den_t and c_t = dL/dden_t = -(g_t . y_t) / den_t (gh = g, c = 0 unnormalised):
//   dq_t = W_t^T gh_t + c_t z_t      dk_t = A_t^T v_t + Z_t      dv_t = A_t k_t
// where Z_t = dL/dz_T + sum_{s>=t} c_s q_s is dL/dz_t (z_t = z_{t-1} + k_t: a reverse cumsum).
#include "kernels/sum_rule.h"

#include <omp.h>

#include <algorithm>

#include "kernels/cpu/fast_weight_state.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/simd_kernels.h"

namespace fwp::kernels::FWP_SIMD_ISA {

namespace {
// The forward runs in column blocks of S of at most kForwardBlockVecs vectors, one task each
// (kernels/cpu/fast_weight_state.h).

// The backward runs in blocks of rows of W (then A) that fit in 32 KB, one after the other.
template <typename Real>
int64_t backward_block_rows(int64_t Dk, int64_t Dv) {
  const int64_t fit = 32768 / (padded<Real>(Dk) * int64_t(sizeof(Real)));
  return std::min(Dv, std::max(kLanes<Real>, fit / kLanes<Real> * kLanes<Real>));
}

template <typename Real>
int64_t slice_size(int64_t Dk, int64_t Dv) {
  const int64_t Dkp = padded<Real>(Dk), rows = padded<Real>(backward_block_rows<Real>(Dk, Dv));
  return std::max(Dk * kForwardBlockVecs * kLanes<Real> + Dkp,
                  rows * Dkp + 5 * Dkp + rows + kLanes<Real> * kLanes<Real>);
}
}  // namespace

template <typename Real>
int64_t sum_rule_workspace_size(int64_t BH, int64_t Dk, int64_t Dv) {
  return team_size(BH * forward_blocks<Real>(Dv)) * slice_size<Real>(Dk, Dv);
}

namespace {

// One sequence of the forward, for a block of Dv rows of W (v, y rows have stride ldv); NV =
// vectors per row of S. R accumulator sets hide the FMA latency for narrow rows. zT and den
// (the same for every block) may be null: only the first block writes them.
template <typename Real, int NV>
void forward_sequence(Real* __restrict y, Real* __restrict WT, Real* __restrict zT,
                      Real* __restrict den, const Real* __restrict q, const Real* __restrict k,
                      const Real* __restrict v, const Real* __restrict W0,
                      const Real* __restrict z0, bool normalize, Real eps, int64_t T,
                      int64_t Dk, int64_t Dv, int64_t ldv, Real* __restrict ws) {
  using V = Vec<Real>;
  constexpr int R = NV == 1 ? 4 : NV == 2 ? 2 : 1;
  constexpr int64_t nv = NV;
  V* __restrict S = reinterpret_cast<V*>(ws);  // row j of S = column j of W: S[j * nv + c]
  Real* __restrict z = reinterpret_cast<Real*>(S + Dk * nv);
  V local[(R + 2) * NV];
  V* wq = local;  // R partial sums of W_{t-1} q_t
  V* vt = wq + R * nv;
  V* yt = vt + nv;
  load_transposed(S, W0, Dk, Dv);
  for (int64_t j = 0; j < Dk; ++j) z[j] = z0 ? z0[j] : Real(0);
  for (int64_t c = 0; c < R * nv; ++c) wq[c] = V{};
  for (int64_t j = 0; j < (T > 0 ? Dk : 0); ++j)  // the read of step 0
    for (int64_t c = 0; c < nv; ++c) wq[c] += q[j] * S[j * nv + c];
  for (int64_t t = 0; t < T; ++t) {
    const Real* kt = k + t * Dk;
    const Real* qt = q + t * Dk;
    const Real kq = dot(kt, qt, Dk);
    for (int64_t j = 0; j < Dk; ++j) z[j] += kt[j];
    const Real dn = normalize ? dot(z, qt, Dk) + eps : Real(1);
    if (normalize && den) den[t] = dn;
    // y_t = (W_{t-1} q_t + v_t (k_t . q_t)) / den_t
    load_row(vt, v + t * ldv, Dv);
    for (int64_t c = 0; c < nv; ++c) {
      V w = wq[c];
      for (int r = 1; r < R; ++r) w += wq[r * nv + c];
      yt[c] = (w + kq * vt[c]) / dn;
    }
    store_row(y + t * ldv, yt, Dv);
    // one pass over S: the write of step t, then the read of step t+1
    const Real* qn = t + 1 < T ? qt + Dk : qt;
    for (int64_t c = 0; c < R * nv; ++c) wq[c] = V{};
    int64_t j = 0;
    for (; j + R <= Dk; j += R)
      for (int r = 0; r < R; ++r)
        for (int64_t c = 0; c < nv; ++c) {
          const V s = S[(j + r) * nv + c] + kt[j + r] * vt[c];
          S[(j + r) * nv + c] = s;
          wq[r * nv + c] += qn[j + r] * s;
        }
    for (; j < Dk; ++j)
      for (int64_t c = 0; c < nv; ++c) {
        const V s = S[j * nv + c] + kt[j] * vt[c];
        S[j * nv + c] = s;
        wq[c] += qn[j] * s;
      }
  }
  store_transposed(WT, S, Dk, Dv);
  for (int64_t j = 0; zT && j < Dk; ++j) zT[j] = z[j];
}

}  // namespace

template <typename Real>
void sum_rule_forward_cpu(Real* y, Real* WT, Real* zT, Real* den, const Real* q, const Real* k,
                          const Real* v, const Real* W0, const Real* z0, bool normalize, Real eps,
                          int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* workspace) {
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
            y + n * T * Dv + c0, WT + (n * Dv + c0) * Dk, c0 == 0 ? zT + n * Dk : nullptr,
            c0 == 0 && den ? den + n * T : nullptr, q + n * T * Dk, k + n * T * Dk,
            v + n * T * Dv + c0, W0 ? W0 + (n * Dv + c0) * Dk : nullptr,
            z0 ? z0 + n * Dk : nullptr, normalize, eps, T, Dk, cols, Dv, ws);
      });
    }
  }
}

namespace {

// The backward of one sequence, for the block of rows [r0, r0 + nrows) of W and A (pointers and
// strides are the sequence's; Dv is its full row count); NK = vectors per row (0: runtime). The
// rows evolve independently and only dq and dk sum over them: the first block writes dq, dk (with
// the normaliser terms) and dz0, the others add their rows' share to dq and dk.
template <typename Real, int NK>
void backward_sequence(Real* __restrict dq, Real* __restrict dk, Real* __restrict dv,
                       Real* __restrict dW0, Real* __restrict dz0, const Real* __restrict gy,
                       const Real* __restrict gWT, const Real* __restrict gzT,
                       const Real* __restrict q, const Real* __restrict k,
                       const Real* __restrict v, const Real* __restrict W0,
                       const Real* __restrict z0, const Real* __restrict y,
                       const Real* __restrict den, bool normalize, int64_t T, int64_t Dk,
                       int64_t Dv, int64_t r0, int64_t nrows, Real* __restrict ws) {
  using V = Vec<Real>;
  constexpr int64_t L = kLanes<Real>;
  const int64_t nk = NK > 0 ? NK : vec_count<Real>(Dk);
  const bool first = r0 == 0;
  V* __restrict M = reinterpret_cast<V*>(ws);  // W in sweep 1, A in sweep 2: row i = M[i * nk + c]
  V* P = M + nrows * nk;                       // sweep 2: partial sums A_i . k_t of a row block
  V* dvt = P + L;                              // sweep 2: dv_t of the block's rows
  V local[NK > 0 ? 5 * NK : 1];
  V* xt = NK > 0 ? local : dvt + vec_count<Real>(nrows);  // k_t (sweep 1) or q_t (sweep 2)
  V* kt = xt + nk;
  V* z = kt + nk;  // z_t (sweep 1) or Z_t (sweep 2), first block only
  V* acc = z + nk;
  V* old = acc + nk;
  const Real* gb = gy + r0;  // the block's rows of g and v (row stride Dv)
  const Real* vb = v + r0;
  auto scale = [&](int64_t t) { return normalize ? Real(1) / den[t] : Real(1); };  // gh = g scale
  auto c_of = [&](int64_t t) {
    return normalize ? -dot(gy + t * Dv, y + t * Dv, Dv) / den[t] : Real(0);
  };
  auto load_state = [&](const Real* src) {  // rows of a (Dv, Dk) state, or zeros
    for (int64_t i = 0; i < nrows; ++i) {
      if (src) {
        load_row(M + i * nk, src + (r0 + i) * Dk, Dk);
      } else {
        for (int64_t c = 0; c < nk; ++c) M[i * nk + c] = V{};
      }
    }
  };
  auto load_vec = [&](V* dst, const Real* src) {
    if (src) {
      load_row(dst, src, Dk);
    } else {
      for (int64_t c = 0; c < nk; ++c) dst[c] = V{};
    }
  };
  auto finish = [&](Real* out) {  // out = acc, or out += acc after the first block
    if (!first) {
      load_row(old, out, Dk);
      for (int64_t c = 0; c < nk; ++c) acc[c] += old[c];
    }
    store_row(out, acc, Dk);
  };
  // sweep 1, forwards: W_t = W_{t-1} + v_t k_t^T;  dq_t = W_t^T gh_t + c_t z_t
  load_state(W0);
  load_vec(z, z0);
  for (int64_t t = 0; t < T; ++t) {
    load_row(kt, k + t * Dk, Dk);
    for (int64_t c = 0; c < nk; ++c) acc[c] = V{};
    const Real st = scale(t);
    for (int64_t i = 0; i < nrows; ++i) {
      const Real vi = vb[t * Dv + i], gi = gb[t * Dv + i] * st;
      for (int64_t c = 0; c < nk; ++c) {
        const V w = M[i * nk + c] + vi * kt[c];
        M[i * nk + c] = w;
        acc[c] += gi * w;
      }
    }
    if (first) {
      const Real ct = c_of(t);
      for (int64_t c = 0; c < nk; ++c) {
        z[c] += kt[c];
        acc[c] += ct * z[c];
      }
    }
    finish(dq + t * Dk);
  }
  // sweep 2, backwards: A_t = A_{t+1} + gh_t q_t^T;  dk_t = A_t^T v_t + Z_t;  dv_t = A_t k_t
  load_state(gWT);
  load_vec(z, gzT);
  for (int64_t t = T - 1; t >= 0; --t) {
    load_row(xt, q + t * Dk, Dk);
    load_row(kt, k + t * Dk, Dk);
    for (int64_t c = 0; c < nk; ++c) acc[c] = V{};
    const Real st = scale(t);
    for (int64_t i0 = 0; i0 < nrows; i0 += L) {  // blocks of L rows: dv for the block in one vector
      const int64_t rows = std::min(L, nrows - i0);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = i0 + r;
        const Real vi = vb[t * Dv + i], gi = gb[t * Dv + i] * st;
        V p{};
        for (int64_t c = 0; c < nk; ++c) {
          const V an = M[i * nk + c] + gi * xt[c];
          M[i * nk + c] = an;
          acc[c] += vi * an;
          p += an * kt[c];
        }
        P[r] = p;
      }
      for (int64_t r = rows; r < L; ++r) P[r] = V{};
      dvt[i0 / L] = hsum_rows<Real>(P);
    }
    store_row(dv + t * Dv + r0, dvt, nrows);
    if (first) {
      const Real ct = c_of(t);
      for (int64_t c = 0; c < nk; ++c) {
        z[c] += ct * xt[c];
        acc[c] += z[c];
      }
    }
    finish(dk + t * Dk);
  }
  for (int64_t i = 0; i < nrows; ++i) store_row(dW0 + (r0 + i) * Dk, M + i * nk, Dk);
  if (first) store_row(dz0, z, Dk);
}

}  // namespace

template <typename Real>
void sum_rule_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dW0, Real* dz0,
                           const Real* grad_y, const Real* grad_WT, const Real* grad_zT,
                           const Real* q, const Real* k, const Real* v, const Real* W0,
                           const Real* z0, const Real* y, const Real* den, bool normalize,
                           int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* workspace) {
  const int64_t slice = slice_size<Real>(Dk, Dv);
  with_vec_count(vec_count<Real>(Dk), [&](auto nk) {
#pragma omp parallel num_threads(team_size(BH))
    {
      Real* ws = workspace + omp_get_thread_num() * slice;
#pragma omp for schedule(dynamic, 1)
      for (int64_t n = 0; n < BH; ++n) {
        const int64_t tk = n * T * Dk, tv = n * T * Dv, s = n * Dv * Dk;
        const int64_t rows = backward_block_rows<Real>(Dk, Dv);
        for (int64_t r0 = 0; r0 == 0 || r0 < Dv; r0 += std::max<int64_t>(rows, 1))
          backward_sequence<Real, nk()>(
              dq + tk, dk + tk, dv + tv, dW0 + s, dz0 + n * Dk, grad_y + tv,
              grad_WT ? grad_WT + s : nullptr, grad_zT ? grad_zT + n * Dk : nullptr, q + tk,
              k + tk, v + tv, W0 ? W0 + s : nullptr, z0 ? z0 + n * Dk : nullptr, y + tv,
              den ? den + n * T : nullptr, normalize, T, Dk, Dv, r0, std::min(rows, Dv - r0), ws);
      }
    }
  });
}

#define FWP_INSTANTIATE(R)                                                                     \
  template int64_t sum_rule_workspace_size<R>(int64_t, int64_t, int64_t);                    \
  template void sum_rule_forward_cpu<R>(R*, R*, R*, R*, const R*, const R*, const R*,        \
                                        const R*, const R*, bool, R, int64_t, int64_t,       \
                                        int64_t, int64_t, R*);                               \
  template void sum_rule_backward_cpu<R>(R*, R*, R*, R*, R*, const R*, const R*, const R*,   \
                                         const R*, const R*, const R*, const R*, const R*,   \
                                         const R*, const R*, bool, int64_t, int64_t, int64_t, \
                                         int64_t, R*);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels::FWP_SIMD_ISA
