// Gated-delta-rule kernels (math in kernels/gated_delta_rule.h). OpenMP runs one sequence per
// task. Both kernels keep the state TRANSPOSED, S = W^T (Dk rows of Dv, zero-padded to whole
// vectors), so that every hot loop is a unit-stride pass over rows of S:
//   forward:  one pass per step writes S_j <- alpha_t S_j + k_t,j u_t and, on the way, reads
//             y_t = sum_j q_t,j S_j and p_{t+1} = sum_j k_{t+1,j} S_j (W_t q_t, W_t k_{t+1}).
//             7 Dk Dv FLOPs per step.
//   backward: re-runs each checkpointed segment with the forward's own write_pass (so the states
//             are bit-identical), keeping the C states before its steps, then one reverse pass
//             per step over S_{t-1} and A = (dL/dW)^T. 20 Dk Dv FLOPs per step (5 re-run, 15
//             reverse). The sums over a row that dq and dk need are taken for kLanes rows at once
//             (hsum_rows); the dot product a_t = dL/dW_t k_t is prepared in the pass before.
// Tasks are handed to threads one at a time (dynamic schedule). Naive twins:
// gated_delta_rule_naive.cpp.
#include <omp.h>

#include <algorithm>

#include "kernels/cpu/fast_weight_state.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/simd_kernels.h"
#include "kernels/gated_delta_rule.h"

namespace fwp::kernels::FWP_SIMD_ISA {

namespace {

constexpr int kBlock = kBlockVecs;  // vectors of a state row per forward block (accumulators in registers)

// Per-thread workspace, in vectors: the C states of a segment, A, d_t and u_t of a segment, two
// blocks of kLanes partial sums, and 12 row vectors (also enough for the forward: S and 3 rows).
template <typename Real>
int64_t slice_vectors(int64_t Dk, int64_t Dv, int64_t C) {
  const int64_t nv = vec_count<Real>(Dv);
  return (C + 1) * Dk * nv + 2 * C * nv + 2 * kLanes<Real> + 12 * nv;
}

// Columns [c0, c0 + NB) of every row j: dst_j = alpha src_j + kt_j u (dst may be src), and the
// reads p = sum_j kn_j dst_j and, when kRead, wq = sum_j qt_j dst_j.
template <typename Real, int NB, bool kRead>
void write_block(Vec<Real>* dst, const Vec<Real>* src, Real alpha, const Real* kt,
                 const Vec<Real>* u, const Real* qt, const Real* kn, Vec<Real>* p,
                 Vec<Real>* wq, int64_t Dk, int64_t nv, int64_t c0) {
  using V = Vec<Real>;
  V uu[NB], b[NB], w[NB];
  for (int c = 0; c < NB; ++c) {
    uu[c] = u[c0 + c];
    b[c] = w[c] = V{};
  }
  for (int64_t j = 0; j < Dk; ++j) {
    const V* s_row = src + j * nv + c0;
    V* d_row = dst + j * nv + c0;
    for (int c = 0; c < NB; ++c) {
      const V x = alpha * s_row[c] + kt[j] * uu[c];
      d_row[c] = x;
      b[c] += kn[j] * x;
      if constexpr (kRead) w[c] += qt[j] * x;
    }
  }
  for (int c = 0; c < NB; ++c) {
    p[c0 + c] = b[c];
    if constexpr (kRead) wq[c0 + c] = w[c];
  }
}

// One step's pass over the state: S <- alpha S + k_t u^T (rows of S), then p = S k_next and
// (kRead) wq = S q_t. With u = 0 and alpha = 1 it rewrites S unchanged and only reads p: that
// resumes a checkpoint with exactly the numbers the forward had.
template <typename Real, bool kRead>
void write_pass(Vec<Real>* dst, const Vec<Real>* src, Real alpha, const Real* kt,
                const Vec<Real>* u, const Real* qt, const Real* kn, Vec<Real>* p, Vec<Real>* wq,
                int64_t Dk, int64_t nv) {
  int64_t c0 = 0;
  for (; c0 + kBlock <= nv; c0 += kBlock)
    write_block<Real, kBlock, kRead>(dst, src, alpha, kt, u, qt, kn, p, wq, Dk, nv, c0);
  for (; c0 < nv; ++c0)
    write_block<Real, 1, kRead>(dst, src, alpha, kt, u, qt, kn, p, wq, Dk, nv, c0);
}

template <typename Real>
void forward_sequence(Real* y, Real* WT, Real* cps, const Real* q, const Real* k, const Real* v,
                      const Real* beta, const Real* alpha, const Real* W0, int64_t T, int64_t Dk,
                      int64_t Dv, int64_t C, Real* ws) {
  using V = Vec<Real>;
  const int64_t nv = vec_count<Real>(Dv);
  V* S = reinterpret_cast<V*>(ws);  // row j of S = column j of W
  V* u = S + Dk * nv;
  V* p = u + nv;
  V* wq = p + nv;
  load_transposed(S, W0, Dk, Dv);
  for (int64_t c = 0; c < nv; ++c) u[c] = V{};
  if (T > 0) write_pass<Real, false>(S, S, Real(1), k, u, nullptr, k, p, wq, Dk, nv);  // p_0
  for (int64_t t = 0; t < T; ++t) {
    store_checkpoint(cps, S, t, C, Dk, Dv);
    make_update<Real>(u, nullptr, v + t * Dv, p, alpha[t], beta[t], Dv);  // d = v - alpha p
    const Real* kn = k + std::min(t + 1, T - 1) * Dk;
    write_pass<Real, true>(S, S, alpha[t], k + t * Dk, u, q + t * Dk, kn, p, wq, Dk, nv);
    store_row(y + t * Dv, wq, Dv);
  }
  store_transposed(WT, S, Dk, Dv);
}

// What the reverse pass of step t reads (vectors of nv over Dv): g_t, u_t, a_t = dL/dW_t k_t and
// ab_a = alpha_t beta_t a_t; S = W_{t-1}^T; the scalars alpha_t, beta_t, (u_t . g_t); the rows
// q_t, k_t and kp = k_{t-1}.
template <typename Real>
struct ReverseStep {
  const Vec<Real>*g, *u, *a, *ab_a, *S;
  Real alpha, beta, ug;
  const Real *q, *k, *kp;
};

// The reverse pass of step t over the rows j of S and A (A_j = column j of dL/dW_t without
// g_t q_t^T on entry, of dL/dW_{t-1} without g_{t-1} q_{t-1}^T on exit). Per row, with s = S_j:
//   Ah = A_j + q_j g                       (column j of dL/dW_t)
//   dq_j = alpha (s . g) + k_j (u . g)     (W_t^T g with W_t = alpha W_{t-1} + u k^T)
//   dk_j = Ah . u - alpha beta (s . a)
//   At = Ah - beta k_j a;  dalpha += At . s;  A_j = alpha At;  ak += kp_j A_j (for a_{t-1})
// NV = vectors per row when fixed, 0 for a runtime count (the row arrays then live in `spill`).
template <typename Real, int NV>
Real reverse_pass(Vec<Real>* __restrict A, Vec<Real>* __restrict ak, Real* dq, Real* dk,
                  const ReverseStep<Real>& st, Vec<Real>* PQ, Vec<Real>* PK, Vec<Real>* spill,
                  int64_t Dk, int64_t Dv) {
  using V = Vec<Real>;
  constexpr int64_t L = kLanes<Real>;
  const int64_t nv = NV > 0 ? NV : vec_count<Real>(Dv);
  V local[NV > 0 ? 5 * NV : 1];
  V* base = NV > 0 ? local : spill;
  V *g = base, *u = g + nv, *a = u + nv, *ab_a = a + nv, *pal = ab_a + nv;
  for (int64_t c = 0; c < nv; ++c) {
    g[c] = st.g[c];
    u[c] = st.u[c];
    a[c] = st.a[c];
    ab_a[c] = st.ab_a[c];
    pal[c] = ak[c] = V{};
  }
  for (int64_t j0 = 0; j0 < Dk; j0 += L) {
    const int64_t rows = std::min(L, Dk - j0);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t j = j0 + r;
      const Real qj = st.q[j], bkj = st.beta * st.k[j], kpj = st.kp[j];
      const V* s_row = st.S + j * nv;
      V* A_row = A + j * nv;
      V pq{}, pk{};
      for (int64_t c = 0; c < nv; ++c) {
        const V s = s_row[c];
        const V ah = A_row[c] + qj * g[c];
        pq += s * g[c];
        pk += ah * u[c];
        pk -= s * ab_a[c];
        const V at = ah - bkj * a[c];
        pal[c] += at * s;
        const V an = st.alpha * at;
        A_row[c] = an;
        ak[c] += kpj * an;
      }
      PQ[r] = pq;
      PK[r] = pk;
    }
    for (int64_t r = rows; r < L; ++r) PQ[r] = PK[r] = V{};
    V kv;
    load_row(&kv, st.k + j0, rows);
    const V vq = st.alpha * hsum_rows<Real>(PQ) + st.ug * kv;
    const V vk = hsum_rows<Real>(PK);
    store_row(dq + j0, &vq, rows);
    store_row(dk + j0, &vk, rows);
  }
  V s{};
  for (int64_t c = 0; c < nv; ++c) s += pal[c];
  return hsum(s);
}

// Re-runs steps t0 .. t0 + len - 1 from checkpoint cp with the forward's write_pass: slot i
// (Dk rows of nv vectors) gets the state before step t0 + i; d and u of each step.
template <typename Real>
void recompute_segment(Vec<Real>* slots, Vec<Real>* dseg, Vec<Real>* useg, Vec<Real>* p,
                       Vec<Real>* scratch, const Vec<Real>* zero, const Real* cp, const Real* k,
                       const Real* v, const Real* beta, const Real* alpha, int64_t t0,
                       int64_t len, int64_t Dk, int64_t Dv) {
  const int64_t nv = vec_count<Real>(Dv), E = Dk * nv;
  load_checkpoint(slots, cp, Dk, Dv);
  const Real* k0 = k + t0 * Dk;
  write_pass<Real, false>(slots, slots, Real(1), k0, zero, nullptr, k0, p, scratch, Dk, nv);
  for (int64_t i = 0; i < len; ++i) {
    const int64_t t = t0 + i;
    make_update<Real>(useg + i * nv, dseg + i * nv, v + t * Dv, p, alpha[t], beta[t], Dv);
    if (i + 1 < len)
      write_pass<Real, false>(slots + (i + 1) * E, slots + i * E, alpha[t], k + t * Dk,
                              useg + i * nv, nullptr, k + (t + 1) * Dk, p, scratch, Dk, nv);
  }
}

template <typename Real, int NV>
void backward_sequence(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dalpha, Real* dW0,
                       const Real* gy, const Real* gWT, const Real* q, const Real* k,
                       const Real* v, const Real* beta, const Real* alpha, const Real* cps,
                       int64_t T, int64_t Dk, int64_t Dv, int64_t C, Real* ws) {
  using V = Vec<Real>;
  constexpr int64_t L = kLanes<Real>;
  const int64_t nv = vec_count<Real>(Dv), E = Dk * nv;
  V* slots = reinterpret_cast<V*>(ws);
  V* A = slots + C * E;
  V* dseg = A + E;
  V* useg = dseg + C * nv;
  V *PQ = useg + C * nv, *PK = PQ + L;
  V *ak = PK + L, *g = ak + nv, *a = g + nv, *ab_a = a + nv, *p = ab_a + nv;
  V *scratch = p + nv, *zero = scratch + nv, *spill = zero + nv;  // spill: 3 nv (NV = 0: 5 nv)
  load_transposed(A, gWT, Dk, Dv);  // A = (dL/dW_T)^T
  for (int64_t c = 0; c < nv; ++c) ak[c] = zero[c] = V{};
  for (int64_t j = 0; j < Dk && T > 0; ++j)  // ak = dL/dW_T k_{T-1}
    for (int64_t c = 0; c < nv; ++c) ak[c] += k[(T - 1) * Dk + j] * A[j * nv + c];
  const int64_t ncp = gated_delta_rule_checkpoints(T, C);
  for (int64_t cp = ncp - 1; cp >= 0; --cp) {
    const int64_t t0 = cp * C, len = std::min(C, T - t0);
    recompute_segment<Real>(slots, dseg, useg, p, scratch, zero, cps + cp * Dk * Dv, k, v, beta,
                            alpha, t0, len, Dk, Dv);
    for (int64_t i = len - 1; i >= 0; --i) {
      const int64_t t = t0 + i;
      const Real b = beta[t], al = alpha[t];
      load_row(g, gy + t * Dv, Dv);
      const Real qk = dot(q + t * Dk, k + t * Dk, Dk);
      V db{}, ug{};
      for (int64_t c = 0; c < nv; ++c) {  // a_t = A k_t + (q_t . k_t) g_t;  dv_t = beta_t a_t
        a[c] = ak[c] + qk * g[c];
        db += a[c] * dseg[i * nv + c];
        ug += useg[i * nv + c] * g[c];
        ab_a[c] = (al * b) * a[c];
        scratch[c] = b * a[c];
      }
      dbeta[t] = hsum(db);  // a_t . d_t
      store_row(dv + t * Dv, scratch, Dv);
      const ReverseStep<Real> st{g, useg + i * nv, a, ab_a, slots + i * E, al, b, hsum(ug),
                                 q + t * Dk, k + t * Dk, k + std::max<int64_t>(t - 1, 0) * Dk};
      dalpha[t] = reverse_pass<Real, NV>(A, ak, dq + t * Dk, dk + t * Dk, st, PQ, PK, spill, Dk,
                                         Dv);
    }
  }
  if (dW0) store_transposed(dW0, A, Dk, Dv);
}

}  // namespace

template <typename Real>
int64_t gated_delta_rule_workspace_size(int64_t BH, int64_t Dk, int64_t Dv, int64_t C) {
  return team_size(BH) * slice_vectors<Real>(Dk, Dv, C) * kLanes<Real>;
}

template <typename Real>
void gated_delta_rule_forward_cpu(Real* y, Real* WT, Real* checkpoints, const Real* q,
                                  const Real* k, const Real* v, const Real* beta,
                                  const Real* alpha, const Real* W0, int64_t BH, int64_t T,
                                  int64_t Dk, int64_t Dv, int64_t C, Real* workspace) {
  const int64_t slice = slice_vectors<Real>(Dk, Dv, C) * kLanes<Real>;
  const int64_t ncp = gated_delta_rule_checkpoints(T, C);
#pragma omp parallel num_threads(team_size(BH))
  {
    Real* ws = workspace + omp_get_thread_num() * slice;
#pragma omp for schedule(dynamic, 1)
    for (int64_t n = 0; n < BH; ++n)
      forward_sequence<Real>(y + n * T * Dv, WT + n * Dv * Dk,
                             checkpoints ? checkpoints + n * ncp * Dk * Dv : nullptr,
                             q + n * T * Dk, k + n * T * Dk, v + n * T * Dv, beta + n * T,
                             alpha + n * T, W0 ? W0 + n * Dv * Dk : nullptr, T, Dk, Dv, C, ws);
  }
}

template <typename Real>
void gated_delta_rule_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dalpha,
                                   Real* dW0, const Real* grad_y, const Real* grad_WT,
                                   const Real* q, const Real* k, const Real* v, const Real* beta,
                                   const Real* alpha, const Real* checkpoints, int64_t BH,
                                   int64_t T, int64_t Dk, int64_t Dv, int64_t C,
                                   Real* workspace) {
  const int64_t slice = slice_vectors<Real>(Dk, Dv, C) * kLanes<Real>;
  const int64_t ncp = gated_delta_rule_checkpoints(T, C);
  with_vec_count(vec_count<Real>(Dv), [&](auto nv) {
#pragma omp parallel num_threads(team_size(BH))
    {
      Real* ws = workspace + omp_get_thread_num() * slice;
#pragma omp for schedule(dynamic, 1)
      for (int64_t n = 0; n < BH; ++n) {
        const int64_t tk = n * T * Dk, tv = n * T * Dv, s = n * Dv * Dk;
        backward_sequence<Real, decltype(nv)::value>(
            dq + tk, dk + tk, dv + tv, dbeta + n * T, dalpha + n * T, dW0 ? dW0 + s : nullptr,
            grad_y + tv, grad_WT ? grad_WT + s : nullptr, q + tk, k + tk, v + tv, beta + n * T,
            alpha + n * T, checkpoints + n * ncp * Dk * Dv, T, Dk, Dv, C, ws);
      }
    }
  });
}

#define FWP_INSTANTIATE(R)                                                                      \
  template int64_t gated_delta_rule_workspace_size<R>(int64_t, int64_t, int64_t, int64_t);    \
  template void gated_delta_rule_forward_cpu<R>(R*, R*, R*, const R*, const R*, const R*,     \
                                                const R*, const R*, const R*, int64_t,        \
                                                int64_t, int64_t, int64_t, int64_t, R*);      \
  template void gated_delta_rule_backward_cpu<R>(R*, R*, R*, R*, R*, R*, const R*, const R*,  \
                                                 const R*, const R*, const R*, const R*,      \
                                                 const R*, const R*, int64_t, int64_t,        \
                                                 int64_t, int64_t, int64_t, R*);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels::FWP_SIMD_ISA
