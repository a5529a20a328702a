// The delta-rule backward kernel (math in kernels/delta_rule.h and docs/THEORY.md section 7.2;
// the forward and the plan they share: delta_rule_cpu.cpp). W and A = dL/dW (Dv rows of Dk).
// Row i of both evolves on its own; dq and dk are sums of rows; the one dot product per row
// (a_i = A_i . k) is taken for the next step while the row is in registers. Rows go in blocks
// that fit in L1; each step passes over a block once per chunk of at most kBlockVecs vectors of
// columns, so the dq/dk accumulators of any width Dk stay in registers.
#include "kernels/delta_rule.h"

#include <omp.h>

#include <algorithm>
#include <type_traits>

#include "kernels/cpu/delta_rule_workspace.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/simd_kernels.h"

namespace fwp::kernels::FWP_SIMD_ISA {

namespace {

// The start of the reverse sweep of both backward_sequence kernels below: rows i of W (from W_T)
// and of A = dL/dW_T (from gWT, zeros when it is null), nk vectors each.
template <typename Real>
void load_backward_state(Vec<Real>* W, Vec<Real>* A, const Real* WT, const Real* gWT, int64_t Dk,
                         int64_t Dv, int64_t nk) {
  for (int64_t i = 0; i < Dv; ++i) {
    load_row(W + i * nk, WT + i * Dk, Dk);
    if (gWT) {
      load_row(A + i * nk, gWT + i * Dk, Dk);
    } else {
      for (int64_t c = 0; c < nk; ++c) A[i * nk + c] = Vec<Real>{};
    }
  }
}

// The backward's update of one vector of row i at step t, shared by backward_sequence and
// backward_columns below (A holds dL/dW_t BEFORE g_t q_t^T is added, A' below):
//   dq += g_i W_i;  dk += u_i A'_i;  W_i -= u_i k_t;  dk -= beta a_i W_i  (W_i: row i of W_{t-1})
//   A'_i += g_i q_t - beta a_i k_t;  p += A'_i * k_{t-1}  (lane partial sums of the next a_i)
// with gi = g_i, ui = u_i, bai = beta a_i. Without an upstream gradient on y (HasG false) the q
// and dq terms vanish (qc is then never read).
template <typename Real, bool HasG>
[[gnu::always_inline]] inline void backward_row_update(Vec<Real>& Wc, Vec<Real>& Ac,
                                                       Vec<Real>& acc_q, Vec<Real>& acc_k,
                                                       Vec<Real>& p, const Vec<Real>& qc,
                                                       const Vec<Real>& kc, const Vec<Real>& kpc,
                                                       Real gi, Real ui, Real bai) {
  const Vec<Real> av = Ac, w = Wc - ui * kc;
  if constexpr (HasG) acc_q += gi * Wc;
  acc_k += ui * av;
  acc_k -= bai * w;
  Wc = w;
  Vec<Real> an = av - bai * kc;
  if constexpr (HasG) an += gi * qc;
  Ac = an;
  p += an * kpc;
}

// One sequence of the backward (docs/THEORY.md section 7.2), rows of NK <= kNarrowRowVecs vectors
// (Dk padded). A holds dL/dW_t BEFORE g_t q_t^T is added (A' below), so per step and row i:
//   a_i = A'_i . k_t + g_i (q_t . k_t)        (computed during the previous step)
//   dq += g_i W_i                              dq_t = W_t^T g_t
//   dk += u_i A'_i;  W_i -= u_i k_t;  dk -= beta a_i W_i     (W_i is now row i of W_{t-1})
//   A'_i += g_i q_t - beta a_i k_t             (now dL/dW_{t-1} before g_{t-1} q_{t-1}^T)
// and finally dk_t += (u_t . g_t) q_t, the A'^T u term's missing g_t q_t^T part. The dot products
// A'_i . k_{t-1} for the next step are taken while row i is in registers, as one partial-sum
// vector per row, and summed for a block of kLanes rows at once (hsum_rows). Without an upstream
// gradient on y (HasG false: g = 0) every q term vanishes and dq is set to zero.
template <typename Real, int NK, bool HasG>
void backward_sequence(Real* __restrict dq, Real* __restrict dk, Real* __restrict dv,
                       Real* __restrict dbeta, Real* __restrict dW0, const Real* __restrict gy,
                       const Real* __restrict gWT, const Real* __restrict q,
                       const Real* __restrict k, const Real* __restrict beta,
                       const Real* __restrict d, const Real* __restrict WT, int64_t T,
                       int64_t Dk, int64_t Dv, int64_t ldv, bool add, Real* __restrict ws) {
  using V = Vec<Real>;
  constexpr int64_t L = kLanes<Real>;
  static_assert(NK > 0, "rows of a runtime width go to backward_sequence_wide");
  constexpr int64_t nk = NK;
  const int64_t nv = vec_count<Real>(Dv);
  V* __restrict W = reinterpret_cast<V*>(ws);  // row i of W: W[i * nk + c]
  V* __restrict A = W + Dv * nk;
  V* a = A + Dv * nk;  // a_t (rows in lanes), overwritten block by block with a_{t-1}
  V* u = a + nv;       // u_t = beta_t d_t
  V* ba = u + nv;      // beta_t a_t
  V* gp = ba + nv;     // g_{t-1}
  V* P = gp + nv;      // partial sums A'_i . k_{t-1} of the rows of one block
  const Real* ur = reinterpret_cast<const Real*>(u);
  const Real* bar = reinterpret_cast<const Real*>(ba);
  V local[5 * NK];
  V* qt = local;  // q_t, k_t, k_{t-1}
  V* kt = qt + nk;
  V* kp = kt + nk;
  V* acc_q = kp + nk;      // sum_i g_i W_{t,i}
  V* acc_k = acc_q + nk;   // sum_i u_i A'_i - beta a_i W_{t-1,i}
  load_backward_state(W, A, WT, gWT, Dk, Dv, nk);
  if (T > 0) {  // a for step T-1
    load_row(kt, k + (T - 1) * Dk, Dk);
    for (int64_t c = 0; c < nv; ++c) gp[c] = V{};
    if constexpr (HasG) load_row(gp, gy + (T - 1) * ldv, Dv);
    const Real qk = HasG ? dot(q + (T - 1) * Dk, k + (T - 1) * Dk, Dk) : Real(0);
    for (int64_t i0 = 0; i0 < Dv; i0 += L) {
      for (int64_t r = 0; r < L; ++r) {
        P[r] = V{};
        for (int64_t c = 0; i0 + r < Dv && c < nk; ++c) P[r] += A[(i0 + r) * nk + c] * kt[c];
      }
      a[i0 / L] = hsum_rows<Real>(P) + qk * gp[i0 / L];
    }
  }
  for (int64_t t = T - 1; t >= 0; --t) {
    const int64_t tp = t > 0 ? t - 1 : 0;  // the step whose a this pass prepares
    const Real bt = beta[t];
    if constexpr (HasG) load_row(qt, q + t * Dk, Dk);
    load_row(kt, k + t * Dk, Dk);
    load_row(kp, k + tp * Dk, Dk);
    load_row(u, d + t * ldv, Dv);
    if constexpr (HasG) load_row(gp, gy + tp * ldv, Dv);
    const Real qk_prev = HasG ? dot(q + tp * Dk, k + tp * Dk, Dk) : Real(0);
    const Real ab = dot(reinterpret_cast<const Real*>(a), d + t * ldv, Dv);  // a_t . (v_t - vbar_t)
    dbeta[t] = add ? dbeta[t] + ab : ab;
    const Real ug = HasG ? bt * dot(d + t * ldv, gy + t * ldv, Dv) : Real(0);  // u_t . g_t
    for (int64_t c = 0; c < nv; ++c) {
      u[c] = bt * u[c];
      ba[c] = bt * a[c];
    }
    store_row(dv + t * ldv, ba, Dv);  // dv_t = beta_t a_t
    for (int64_t c = 0; c < nk; ++c) acc_q[c] = acc_k[c] = V{};
    for (int64_t i0 = 0; i0 < Dv; i0 += L) {
      const int64_t rows = std::min(L, Dv - i0);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = i0 + r;
        const Real gi = HasG ? gy[t * ldv + i] : Real(0), ui = ur[i], bai = bar[i];
        V* Wi = W + i * nk;
        V* Ai = A + i * nk;
        V p{};
        for (int64_t c = 0; c < nk; ++c)
          backward_row_update<Real, HasG>(Wi[c], Ai[c], acc_q[c], acc_k[c], p, qt[c], kt[c],
                                          kp[c], gi, ui, bai);
        P[r] = p;
      }
      for (int64_t r = rows; r < L; ++r) P[r] = V{};
      a[i0 / L] = hsum_rows<Real>(P) + qk_prev * gp[i0 / L];
    }
    if constexpr (HasG)
      for (int64_t c = 0; c < nk; ++c) acc_k[c] += ug * qt[c];
    if (add) {  // kp is free again: it holds what the earlier row blocks left in dq_t, dk_t
      load_row(kp, dq + t * Dk, Dk);
      for (int64_t c = 0; c < nk; ++c) acc_q[c] += kp[c];
      load_row(kp, dk + t * Dk, Dk);
      for (int64_t c = 0; c < nk; ++c) acc_k[c] += kp[c];
    }
    store_row(dq + t * Dk, acc_q, Dk);
    store_row(dk + t * Dk, acc_k, Dk);
  }
  for (int64_t i = 0; i < Dv; ++i) store_row(dW0 + i * Dk, A + i * nk, Dk);
}

// One pass over the rows of a block at step t, for the NC vectors of columns that start at W, A
// (rows of nk vectors). A holds dL/dW_t BEFORE g_t q_t^T is added (A' below); per row i:
//   dq += g_i W_i                              dq_t = W_t^T g_t
//   dk += u_i A'_i;  W_i -= u_i k_t;  dk -= beta a_i W_i     (W_i is now row i of W_{t-1})
//   A'_i += g_i q_t - beta a_i k_t             (now dL/dW_{t-1} before g_{t-1} q_{t-1}^T)
//   P_i += A'_i * k_{t-1}                      (lane partial sums of the next step's a_i)
// The chunks of q_t, k_t, k_{t-1} and the dq, dk accumulators (5 NC vectors) stay in registers.
// Without an upstream gradient on y (HasG false: g = 0) the q and dq terms vanish. The first
// chunk (First) writes P, the others add to it. NK is the row stride nk when fixed, else 0.
template <typename Real, int NC, int NK, bool HasG, bool First>
void backward_columns(Vec<Real>* __restrict W, Vec<Real>* __restrict A, Vec<Real>* __restrict P,
                      const Vec<Real>* qt_in, const Vec<Real>* kt_in, const Vec<Real>* kp_in,
                      const Real* __restrict g, const Real* __restrict u,
                      const Real* __restrict ba, int64_t rows, int64_t nk_runtime,
                      Vec<Real>* __restrict dq, Vec<Real>* __restrict dk) {
  using V = Vec<Real>;
  const int64_t nk = NK > 0 ? NK : nk_runtime;
  V qt[NC], kt[NC], kp[NC], acc_q[NC], acc_k[NC];
  for (int c = 0; c < NC; ++c) {
    qt[c] = HasG ? qt_in[c] : V{};
    kt[c] = kt_in[c];
    kp[c] = kp_in[c];
    acc_q[c] = acc_k[c] = V{};
  }
  for (int64_t i = 0; i < rows; ++i) {
    const Real gi = HasG ? g[i] : Real(0), ui = u[i], bai = ba[i];
    V* __restrict Wi = W + i * nk;
    V* __restrict Ai = A + i * nk;
    V p{};
    for (int c = 0; c < NC; ++c)
      backward_row_update<Real, HasG>(Wi[c], Ai[c], acc_q[c], acc_k[c], p, qt[c], kt[c], kp[c],
                                      gi, ui, bai);
    if constexpr (First) {
      P[i] = p;
    } else {
      P[i] += p;
    }
  }
  for (int c = 0; c < NC; ++c) {
    dq[c] = acc_q[c];
    dk[c] = acc_k[c];
  }
}

// Rows of at most kNarrowRowVecs vectors go through backward_sequence in one pass per step, with
// q_t, k_t, k_{t-1} and the dq, dk accumulators (5 vectors per vector of the row) in registers;
// wider rows through backward_sequence_wide, in chunks of kBackwardChunkVecs vectors. With 16
// registers a row of 8 vectors (Dk = 64 in f32 on AVX2) spills some of them, yet one pass was
// faster than chunks on an AMD Zen 4 (AVX2 copy: 10-20%; the chunks re-read the per-row scalars
// and partial sums once per chunk) and 7-18% slower on an Intel Sapphire Rapids: AMD's CPUs are
// the common AVX2-only ones, so 8 on every instruction set (docs/RESULTS.md, "SIMD kernels on
// every instruction set").
constexpr int64_t kNarrowRowVecs = 8;

// Columns per pass over the rows (see backward_columns): kBlockVecs vectors keep everything in
// registers (5 per vector of the chunk, plus the row's).
constexpr int64_t kBackwardChunkVecs = kBlockVecs;

// The backward of one sequence for rows wider than kNarrowRowVecs vectors (with AVX-512: Dk > 128
// in f32, > 64 in f64; with AVX2: Dk > 32 in f32, > 16 in f64), whose accumulators do not fit
// in registers: the same sweep as backward_sequence above, but each step makes passes over the
// rows, one per chunk of at most kBackwardChunkVecs vectors of columns (backward_columns). Then
//   a_{t-1, i} = A'_i . k_{t-1} + g_{t-1, i} (q_{t-1} . k_{t-1})
// is summed from the partial sums P for kLanes rows at once (hsum_rows), and
//   dk_t += (u_t . g_t) q_t,  the A'^T u term's missing g_t q_t^T part.
// Blocks after the first (add) add into dq, dk and dbeta. Without gy only k, v, beta and W0
// receive gradients (dq is set to zero).
template <typename Real, int NK, bool HasG>
void backward_sequence_wide(Real* __restrict dq, Real* __restrict dk, Real* __restrict dv,
                       Real* __restrict dbeta, Real* __restrict dW0, const Real* __restrict gy,
                       const Real* __restrict gWT, const Real* __restrict q,
                       const Real* __restrict k, const Real* __restrict beta,
                       const Real* __restrict d, const Real* __restrict WT, int64_t T,
                       int64_t Dk, int64_t Dv, int64_t ldv, bool add, Real* __restrict ws) {
  using V = Vec<Real>;
  constexpr int64_t L = kLanes<Real>, NC = kBackwardChunkVecs;
  const int64_t nk = NK > 0 ? NK : vec_count<Real>(Dk), nv = vec_count<Real>(Dv), rows_p = nv * L;
  V* __restrict W = reinterpret_cast<V*>(ws);  // row i of W: W[i * nk + c]
  V* __restrict A = W + Dv * nk;
  V* a = A + Dv * nk;  // a_t (rows in lanes), then a_{t-1}
  V* u = a + nv;       // u_t = beta_t d_t
  V* ba = u + nv;      // beta_t a_t
  V* gp = ba + nv;     // g_{t-1}
  V* P = gp + nv;      // partial sums of the next a, one vector per row (rows_p)
  V* qt = P + rows_p;  // q_t, k_t, k_{t-1}
  V* kt = qt + nk;
  V* kp = kt + nk;
  const Real* ur = reinterpret_cast<const Real*>(u);
  const Real* bar = reinterpret_cast<const Real*>(ba);
  load_backward_state(W, A, WT, gWT, Dk, Dv, nk);
  // a for the step `tn` from the partial sums in P (which hsum_rows overwrites)
  auto finish_a = [&](int64_t tn) {
    const Real qk = HasG ? dot(q + tn * Dk, k + tn * Dk, Dk) : Real(0);
    if constexpr (HasG) load_row(gp, gy + tn * ldv, Dv);
    for (int64_t i0 = 0; i0 < rows_p; i0 += L)
      a[i0 / L] = hsum_rows<Real>(P + i0) + (HasG ? qk * gp[i0 / L] : V{});
  };
  if (T > 0) {  // a for step T-1: A_T k_{T-1} (+ the g q^T part)
    load_row(kt, k + (T - 1) * Dk, Dk);
    for (int64_t i = 0; i < rows_p; ++i) {
      P[i] = V{};
      for (int64_t c = 0; i < Dv && c < nk; ++c) P[i] += A[i * nk + c] * kt[c];
    }
    finish_a(T - 1);
  }
  for (int64_t t = T - 1; t >= 0; --t) {
    const Real bt = beta[t];
    if constexpr (HasG) load_row(qt, q + t * Dk, Dk);
    load_row(kt, k + t * Dk, Dk);
    load_row(kp, k + (t > 0 ? t - 1 : 0) * Dk, Dk);
    load_row(u, d + t * ldv, Dv);
    const Real ab = dot(reinterpret_cast<const Real*>(a), d + t * ldv, Dv);  // a_t . (v_t - vbar_t)
    dbeta[t] = add ? dbeta[t] + ab : ab;
    const Real ug = HasG ? bt * dot(d + t * ldv, gy + t * ldv, Dv) : Real(0);  // u_t . g_t
    for (int64_t c = 0; c < nv; ++c) {
      u[c] = bt * u[c];
      ba[c] = bt * a[c];
    }
    store_row(dv + t * ldv, ba, Dv);  // dv_t = beta_t a_t
    for (int64_t i = Dv; i < rows_p; ++i) P[i] = V{};  // padding rows of the last lane group
    for (int64_t c0 = 0; c0 < nk; c0 += NC) {
      V cq[NC], ck[NC];
      const int64_t nc = std::min(NC, nk - c0);
      auto pass = [&](auto n, auto first) {
        backward_columns<Real, decltype(n)::value, NK, HasG, decltype(first)::value>(
            W + c0, A + c0, P, qt + c0, kt + c0, kp + c0, gy + t * ldv, ur, bar, Dv, nk, cq, ck);
      };
      with_block_vec_count<NC>(nc, [&](auto n) {
        if (c0 == 0) {
          pass(n, std::true_type{});
        } else {
          pass(n, std::false_type{});
        }
      });
      const int64_t j0 = c0 * L, width = std::min(nc * L, Dk - j0);  // columns [j0, j0 + width)
      if constexpr (HasG)  // without gy, qt holds no q_t (it is not loaded): skip, never 0 * junk
        for (int64_t c = 0; c < nc; ++c) ck[c] += ug * qt[c0 + c];
      if (add) {
        V prev[NC]{};  // load_row fills the first vectors of a narrower chunk
        load_row(prev, dk + t * Dk + j0, width);
        for (int64_t c = 0; c < nc; ++c) ck[c] += prev[c];
        if constexpr (HasG) {
          load_row(prev, dq + t * Dk + j0, width);
          for (int64_t c = 0; c < nc; ++c) cq[c] += prev[c];
        }
      }
      store_row(dk + t * Dk + j0, ck, width);
      if constexpr (HasG) store_row(dq + t * Dk + j0, cq, width);
    }
    if (!HasG && !add)
      for (int64_t j = 0; j < Dk; ++j) dq[t * Dk + j] = Real(0);
    if (t > 0) finish_a(t - 1);
  }
  for (int64_t i = 0; i < Dv; ++i) store_row(dW0 + i * Dk, A + i * nk, Dk);
}

}  // namespace

template <typename Real>
void delta_rule_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                             const Real* grad_y, const Real* grad_WT, const Real* q,
                             const Real* k, const Real* beta, const Real* d, const Real* WT,
                             int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* workspace) {
  const int64_t slice = slice_size<Real>(Dk, Dv);
  auto run = [&](auto has_g, auto nk) {
    constexpr bool HasG = decltype(has_g)::value;
#pragma omp parallel num_threads(team_size(BH))
    {
      Real* ws = workspace + omp_get_thread_num() * slice;
#pragma omp for schedule(dynamic, 1)
      for (int64_t n = 0; n < BH; ++n) {
        const int64_t tk = n * T * Dk, tv = n * T * Dv, rows = backward_block_rows<Real>(Dk, Dv);
        for (int64_t r0 = 0; r0 == 0 || r0 < Dv; r0 += std::max<int64_t>(rows, 1)) {
          const int64_t s = (n * Dv + r0) * Dk, nrows = std::min(rows, Dv - r0);
          auto sequence = [&](auto&&... args) {
            if constexpr (decltype(nk)::value > 0 && decltype(nk)::value <= kNarrowRowVecs) {
              backward_sequence<Real, decltype(nk)::value, HasG>(args...);
            } else {
              backward_sequence_wide<Real, decltype(nk)::value, HasG>(args...);
            }
          };
          sequence(
              dq + tk, dk + tk, dv + tv + r0, dbeta + n * T, dW0 + s,
              HasG ? grad_y + tv + r0 : nullptr, grad_WT ? grad_WT + s : nullptr, q + tk,
              k + tk, beta + n * T, d + tv + r0, WT + s, T, Dk, nrows, Dv, r0 > 0, ws);
        }
      }
    }
  };
  with_vec_count(vec_count<Real>(Dk), [&](auto nk) {
    if (grad_y) {
      run(std::true_type{}, nk);
    } else {
      run(std::false_type{}, nk);
    }
  });
}

#define FWP_INSTANTIATE(R)                                                                      \
  template void delta_rule_backward_cpu<R>(R*, R*, R*, R*, R*, const R*, const R*, const R*,  \
                                           const R*, const R*, const R*, const R*, int64_t,   \
                                           int64_t, int64_t, int64_t, R*);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels::FWP_SIMD_ISA
