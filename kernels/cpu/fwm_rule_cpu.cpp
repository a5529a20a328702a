// FWM-rule kernels (math in kernels/fwm_rule.h). OpenMP runs one sequence per task. The state is
// kept TRANSPOSED, S = W^T (Dk rows of Dv, zero-padded to whole vectors), and UNSCALED: the
// clamp's factor s_t = 1/max(1, n_t) is carried beside S = Wtilde_t and folded into the next
// write (S <- s_{t-1} S + k_t u_t^T), so each step is ONE pass over the state that writes
// Wtilde_t and reads Wtilde_t q_t, Wtilde_t k_{t+1} and |Wtilde_t|_F^2 on the way.
// Rows are processed in blocks of up to kBlock vectors so the per-block accumulators stay in
// registers. The backward re-runs each checkpointed segment with the same write_pass as the
// forward (so its states are bit-identical) and then walks it in reverse, also in one pass per
// step that prepares the dot products of the step before (see reverse_block). The naive twins
// are in fwm_rule_naive.cpp.
#include <omp.h>

#include <algorithm>
#include <cmath>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "kernels/cpu/fast_weight_state.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/simd_kernels.h"
#include "kernels/fwm_rule.h"

namespace fwp::kernels::FWP_SIMD_ISA {

namespace {

constexpr int kBlock = kBlockVecs;  // vectors of a state row per block

// Flush-to-zero (and, on x86, denormals-are-zero) for the calling thread while it lives: the
// MXCSR bits FTZ and DAZ on x86, the FPCR bit FZ on AArch64; a no-op elsewhere. Entries of W that
// no write refreshes shrink by 1/n_t at every clamped step and, in f32, reach the denormal range
// after ~80 steps with n_t ~ 3: the op then ran ~25x slower (B = 32, T = 400, tanh keys).
// Flushing changes a value by less than the smallest normal number (1.2e-38 in f32), where
// |W|_F <= 1.
class FlushDenormals {
 public:
#if defined(__SSE__)
  FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040); }
  ~FlushDenormals() { _mm_setcsr(saved_); }

 private:
  unsigned saved_;
#elif defined(__aarch64__)
  FlushDenormals() {
    asm volatile("mrs %0, fpcr" : "=r"(saved_));
    asm volatile("msr fpcr, %0" : : "r"(saved_ | (uint64_t(1) << 24)));
  }
  ~FlushDenormals() { asm volatile("msr fpcr, %0" : : "r"(saved_)); }

 private:
  uint64_t saved_;
#else
  FlushDenormals() {}  // user-provided, so that an unused instance draws no warning
#endif
};

// Per-thread workspace, in vectors: C + 1 states, A = dL/dW^T, d_t and u_t of a segment, two
// per-row accumulators, 12 row vectors and the C + 1 scales.
template <typename Real>
int64_t slice_vectors(int64_t Dk, int64_t Dv, int64_t C) {
  const int64_t nv = vec_count<Real>(Dv);
  return (C + 2) * Dk * nv + 2 * C * nv + 2 * Dk + 12 * nv + vec_count<Real>(C + 1);
}

// s = 1 / max(1, n) with n = sqrt(sq_norm) when the step clamps, else 1.
template <typename Real>
Real clamp_scale(Real sq_norm, bool clamp) {
  const Real n = std::sqrt(sq_norm);
  return clamp && n > Real(1) ? Real(1) / n : Real(1);
}

// Columns [c0, c0 + NB) of every row j: dst_j = scale src_j + kt_j u (dst may be src), and the
// reads vb = sum_j kn_j dst_j, wq = sum_j qt_j dst_j (kRead), nrm += dst_j * dst_j.
template <typename Real, int NB, bool kRead>
void write_block(Vec<Real>* dst, const Vec<Real>* src, Real scale, const Real* kt,
                 const Vec<Real>* u, const Real* qt, const Real* kn, Vec<Real>* vb, Vec<Real>* wq,
                 Vec<Real>& nrm, int64_t Dk, int64_t nv, int64_t c0) {
  using V = Vec<Real>;
  V uu[NB], b[NB], w[NB], sq[NB];
  for (int c = 0; c < NB; ++c) {
    uu[c] = u[c0 + c];
    b[c] = w[c] = sq[c] = V{};
  }
  for (int64_t j = 0; j < Dk; ++j) {
    const V* s_row = src + j * nv + c0;
    V* d_row = dst + j * nv + c0;
    for (int c = 0; c < NB; ++c) {
      const V x = scale * s_row[c] + kt[j] * uu[c];
      d_row[c] = x;
      sq[c] += x * x;
      b[c] += kn[j] * x;
      if constexpr (kRead) w[c] += qt[j] * x;
    }
  }
  for (int c = 0; c < NB; ++c) {
    vb[c0 + c] = b[c];
    if constexpr (kRead) wq[c0 + c] = w[c];
    nrm += sq[c];
  }
}

// One step's pass over the transposed state (S has Dk rows of nv vectors): the write
// Wtilde_t = s_{t-1} Wtilde_{t-1} + k_t u_t^T (as rows of S), then vb = Wtilde_t k_{t+1} and
// wq = Wtilde_t q_t. Returns |Wtilde_t|_F^2. With u = 0 and scale = 1 it rewrites S unchanged
// and only reads: that resumes a checkpoint with exactly the numbers the forward had.
template <typename Real, bool kRead>
Real write_pass(Vec<Real>* dst, const Vec<Real>* src, Real scale, const Real* kt,
                const Vec<Real>* u, const Real* qt, const Real* kn, Vec<Real>* vb,
                Vec<Real>* wq, int64_t Dk, int64_t nv) {
  Vec<Real> nrm{};
  int64_t c0 = 0;
  for (; c0 + kBlock <= nv; c0 += kBlock)
    write_block<Real, kBlock, kRead>(dst, src, scale, kt, u, qt, kn, vb, wq, nrm, Dk, nv, c0);
  for (; c0 < nv; ++c0)
    write_block<Real, 1, kRead>(dst, src, scale, kt, u, qt, kn, vb, wq, nrm, Dk, nv, c0);
  return hsum(nrm);
}

template <typename Real, bool kRead>
void forward_sequence(Real* y, Real* WT, Real* cps, const Real* q, const Real* k, const Real* v,
                      const Real* beta, const Real* W0, bool clamp_first_step, int64_t T,
                      int64_t Dk, int64_t Dv, int64_t C, Real* ws) {
  using V = Vec<Real>;
  const int64_t nv = vec_count<Real>(Dv);
  V* S = reinterpret_cast<V*>(ws);  // row j of S = column j of W
  V* u = S + Dk * nv;
  V* vb = u + nv;
  V* wq = vb + nv;
  load_transposed(S, W0, Dk, Dv);
  for (int64_t c = 0; c < nv; ++c) u[c] = V{};
  Real s = 1;  // W_t = s Wtilde_t; W_0 itself is never clamped
  if (T > 0) write_pass<Real, false>(S, S, Real(1), k, u, nullptr, k, vb, wq, Dk, nv);
  for (int64_t t = 0; t < T; ++t) {
    store_checkpoint(cps, S, t, C, Dk, Dv);
    make_update<Real>(u, nullptr, v + t * Dv, vb, s, beta[t], Dv);  // d = v - s Wtilde k = v - W k
    const Real* kn = k + (t + 1 < T ? t + 1 : t) * Dk;
    const Real sq = write_pass<Real, kRead>(S, S, s, k + t * Dk, u, kRead ? q + t * Dk : nullptr,
                                            kn, vb, wq, Dk, nv);
    s = clamp_scale(sq, t > 0 || clamp_first_step);
    if constexpr (kRead) {
      for (int64_t c = 0; c < nv; ++c) wq[c] = s * wq[c];
      store_row(y + t * Dv, wq, Dv);
    }
  }
  store_transposed(WT, S, Dk, Dv, s);  // W_T = s_T Wtilde_T
}

// What the reverse pass of step t reads. W_t = s_a raw_a (after the step), W_{t-1} = s_b raw_b.
// sa_eff, rho_eff are s_a and rho_t = <A + g_t q_t^T, W_t> when the clamp was active at t, else 1
// and 0, which makes the clamp's backward the identity. qp, kp are q_{t-1}, k_{t-1}.
template <typename Real>
struct ReverseStep {
  const Vec<Real>* raw_a;
  const Vec<Real>* raw_b;
  Real s_a, s_b, sa_eff, rho_eff, beta;
  const Real *q, *k, *qp, *kp;
  const Vec<Real>*g, *u, *a;  // g_t, u_t = beta_t d_t, a_t = dL/dWtilde_t k_t
};

// Columns [c0, c0 + NB) of every row j of the transposed state and of A = (dL/dW_t)^T without
// g_t q_t^T. Per row (a column of W, of A):
//   Ahat = A_j + q_j g          dq_j += W_t,j . g                (A + g q^T = dL/dW_t)
//   At = sa_eff (Ahat - rho_eff W_t,j)                           (dL/dWtilde_t)
//   dk_j += At . u - beta W_{t-1},j . a                          (a = At k_t)
//   A_j = At - beta k_j a                                        (dL/dW_{t-1} without g q^T)
// and, for step t-1 while the row is loaded: Ak += kp_j A_j, Wk += kp_j raw_b,j,
// R1 += A_j * raw_b,j, Wq += qp_j raw_b,j (see prepare_step).
template <typename Real, int NB, bool kRead>
void reverse_block(Vec<Real>* A, Vec<Real>* acc_q, Vec<Real>* acc_k, const ReverseStep<Real>& st,
                   Vec<Real>* Ak, Vec<Real>* Wk, Vec<Real>* R1, Vec<Real>* Wq, int64_t Dk,
                   int64_t nv, int64_t c0) {
  using V = Vec<Real>;
  V uu[NB], aa[NB], gg[NB], ak[NB], wk[NB], r1[NB], wq[NB];
  const Real bsb = st.beta * st.s_b;
  for (int c = 0; c < NB; ++c) {
    uu[c] = st.u[c0 + c];
    aa[c] = st.a[c0 + c];
    gg[c] = kRead ? st.g[c0 + c] : V{};
    ak[c] = wk[c] = r1[c] = wq[c] = V{};
  }
  for (int64_t j = 0; j < Dk; ++j) {
    const V* ra = st.raw_a + j * nv + c0;
    const V* rb = st.raw_b + j * nv + c0;
    V* Aj = A + j * nv + c0;
    const Real bk = st.beta * st.k[j], kp = st.kp[j];
    V pq{}, pk{};
    for (int c = 0; c < NB; ++c) {
      const V wa = st.s_a * ra[c];
      V ah = Aj[c];
      if constexpr (kRead) {
        ah += st.q[j] * gg[c];
        pq += wa * gg[c];
      }
      const V at = st.sa_eff * (ah - st.rho_eff * wa);
      const V rbv = rb[c];
      pk += at * uu[c] - bsb * rbv * aa[c];
      const V an = at - bk * aa[c];
      Aj[c] = an;
      ak[c] += kp * an;
      wk[c] += kp * rbv;
      r1[c] += an * rbv;
      if constexpr (kRead) wq[c] += st.qp[j] * rbv;
    }
    if constexpr (kRead) acc_q[j] += pq;
    acc_k[j] += pk;
  }
  for (int c = 0; c < NB; ++c) {
    Ak[c0 + c] = ak[c];
    Wk[c0 + c] = wk[c];
    R1[c0 + c] = r1[c];
    Wq[c0 + c] = wq[c];
  }
}

template <typename Real, bool kRead>
void reverse_pass(Vec<Real>* A, Vec<Real>* acc_q, Vec<Real>* acc_k, const ReverseStep<Real>& st,
                  Vec<Real>* Ak, Vec<Real>* Wk, Vec<Real>* R1, Vec<Real>* Wq, int64_t Dk,
                  int64_t nv) {
  for (int64_t j = 0; j < Dk; ++j) acc_q[j] = acc_k[j] = Vec<Real>{};
  int64_t c0 = 0;
  for (; c0 + kBlock <= nv; c0 += kBlock)
    reverse_block<Real, kBlock, kRead>(A, acc_q, acc_k, st, Ak, Wk, R1, Wq, Dk, nv, c0);
  for (; c0 < nv; ++c0)
    reverse_block<Real, 1, kRead>(A, acc_q, acc_k, st, Ak, Wk, R1, Wq, Dk, nv, c0);
}

// The reverse sums of a step computed without a preceding reverse pass (for step T): Ak = A k,
// Wk = raw k, R1 = sum_j A_j * raw_j, Wq = raw q, A and raw being (dL/dW_T)^T and Wtilde_T^T.
template <typename Real>
void first_sums(Vec<Real>* Ak, Vec<Real>* Wk, Vec<Real>* R1, Vec<Real>* Wq, const Vec<Real>* A,
                const Vec<Real>* raw, const Real* k, const Real* q, int64_t Dk, int64_t nv) {
  for (int64_t c = 0; c < nv; ++c) Ak[c] = Wk[c] = R1[c] = Wq[c] = Vec<Real>{};
  for (int64_t j = 0; j < Dk; ++j)
    for (int64_t c = 0; c < nv; ++c) {
      Ak[c] += k[j] * A[j * nv + c];
      Wk[c] += k[j] * raw[j * nv + c];
      R1[c] += A[j * nv + c] * raw[j * nv + c];
      if (q) Wq[c] += q[j] * raw[j * nv + c];
    }
}

// From the sums over the rows, with W_t = s raw (s < 1 exactly when the clamp was active):
//   rho = <A + g q^T, W_t> = s (sum R1 + g . Wq)
//   a = At k = s (A k + (q . k) g - rho s raw k)  when active,  A k + (q . k) g  otherwise.
template <typename Real, bool kRead>
void prepare_step(Vec<Real>* a, Real& sa_eff, Real& rho_eff, const Vec<Real>* Ak,
                  const Vec<Real>* Wk, const Vec<Real>* R1, const Vec<Real>* Wq,
                  const Vec<Real>* g, Real qk, Real s, int64_t nv) {
  const bool active = s < Real(1);
  Vec<Real> r{};
  for (int64_t c = 0; c < nv; ++c) r += kRead ? R1[c] + g[c] * Wq[c] : R1[c];
  const Real rho = s * hsum(r);
  for (int64_t c = 0; c < nv; ++c) {
    const Vec<Real> base = kRead ? Ak[c] + qk * g[c] : Ak[c];
    a[c] = active ? s * (base - (rho * s) * Wk[c]) : base;
  }
  sa_eff = active ? s : Real(1);
  rho_eff = active ? rho : Real(0);
}

// Re-runs steps t0 .. t0 + len - 1 from checkpoint cp with the forward's write_pass: slot i
// (Dk rows of nv vectors) gets Wtilde after t0 + i steps, sc[i] its scale; d and u of each step.
template <typename Real>
void recompute_segment(Vec<Real>* slots, Real* sc, Vec<Real>* dseg, Vec<Real>* useg,
                       Vec<Real>* vb, Vec<Real>* scratch, const Vec<Real>* zero, const Real* cp,
                       const Real* k, const Real* v, const Real* beta, bool clamp_first_step,
                       int64_t t0, int64_t len, int64_t T, int64_t Dk, int64_t Dv) {
  const int64_t nv = vec_count<Real>(Dv), E = Dk * nv;
  load_checkpoint(slots, cp, Dk, Dv);
  const Real* k0 = k + t0 * Dk;
  Real sq = write_pass<Real, false>(slots, slots, Real(1), k0, zero, nullptr, k0, vb, scratch,
                                    Dk, nv);
  sc[0] = t0 == 0 ? Real(1) : clamp_scale(sq, t0 > 1 || clamp_first_step);
  for (int64_t i = 0; i < len; ++i) {
    const int64_t t = t0 + i;
    make_update<Real>(useg + i * nv, dseg + i * nv, v + t * Dv, vb, sc[i], beta[t], Dv);
    const Real* kn = k + (t + 1 < T ? t + 1 : t) * Dk;
    sq = write_pass<Real, false>(slots + (i + 1) * E, slots + i * E, sc[i], k + t * Dk,
                                 useg + i * nv, nullptr, kn, vb, scratch, Dk, nv);
    sc[i + 1] = clamp_scale(sq, t > 0 || clamp_first_step);
  }
}

template <typename Real, bool kRead>
void backward_sequence(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0, const Real* gy,
                       const Real* gWT, const Real* q, const Real* k, const Real* v,
                       const Real* beta, const Real* cps, bool clamp_first_step, int64_t T,
                       int64_t Dk, int64_t Dv, int64_t C, Real* ws) {
  using V = Vec<Real>;
  const int64_t nv = vec_count<Real>(Dv), E = Dk * nv;
  V* slots = reinterpret_cast<V*>(ws);
  V* A = slots + (C + 1) * E;
  V* dseg = A + E;
  V* useg = dseg + C * nv;
  V* acc_q = useg + C * nv;
  V* acc_k = acc_q + Dk;
  V *a = acc_k + Dk, *Ak = a + nv, *Wk = Ak + nv, *R1 = Wk + nv, *Wq = R1 + nv;
  V *vb = Wq + nv, *scratch = vb + nv, *g = scratch + nv, *zero = g + nv;
  Real* sc = reinterpret_cast<Real*>(zero + nv);
  load_transposed(A, gWT, Dk, Dv);  // A = (dL/dW_T)^T
  for (int64_t c = 0; c < nv; ++c) zero[c] = V{};
  Real sa_eff = 1, rho_eff = 0;
  const int64_t ncp = fwm_rule_checkpoints(T, C);
  for (int64_t cp = ncp - 1; cp >= 0; --cp) {
    const int64_t t0 = cp * C, len = std::min(C, T - t0);
    recompute_segment<Real>(slots, sc, dseg, useg, vb, scratch, zero, cps + cp * Dk * Dv, k, v,
                            beta, clamp_first_step, t0, len, T, Dk, Dv);
    if (cp == ncp - 1) {  // prepare step T from dL/dW_T
      const Real* qT = kRead ? q + (T - 1) * Dk : nullptr;
      first_sums<Real>(Ak, Wk, R1, Wq, A, slots + len * E, k + (T - 1) * Dk, qT, Dk, nv);
      Real qk = 0;
      if constexpr (kRead) {
        load_row(g, gy + (T - 1) * Dv, Dv);
        for (int64_t j = 0; j < Dk; ++j) qk += qT[j] * k[(T - 1) * Dk + j];
      }
      prepare_step<Real, kRead>(a, sa_eff, rho_eff, Ak, Wk, R1, Wq, g, qk, sc[len], nv);
    }
    for (int64_t i = len - 1; i >= 0; --i) {
      const int64_t t = t0 + i, tp = t > 0 ? t - 1 : 0;
      V db{};  // dv_t = beta_t a_t;  dbeta_t = a_t . d_t
      for (int64_t c = 0; c < nv; ++c) {
        db += a[c] * dseg[i * nv + c];
        scratch[c] = beta[t] * a[c];
      }
      dbeta[t] = hsum(db);
      store_row(dv + t * Dv, scratch, Dv);
      const ReverseStep<Real> st{slots + (i + 1) * E, slots + i * E, sc[i + 1], sc[i], sa_eff,
                                 rho_eff, beta[t], kRead ? q + t * Dk : nullptr, k + t * Dk,
                                 kRead ? q + tp * Dk : nullptr, k + tp * Dk, g, useg + i * nv, a};
      reverse_pass<Real, kRead>(A, acc_q, acc_k, st, Ak, Wk, R1, Wq, Dk, nv);
      for (int64_t j = 0; j < Dk; ++j) {
        dk[t * Dk + j] = hsum(acc_k[j]);
        if constexpr (kRead) dq[t * Dk + j] = hsum(acc_q[j]);
      }
      if (t == 0) continue;
      Real qk = 0;
      if constexpr (kRead) {
        load_row(g, gy + tp * Dv, Dv);
        for (int64_t j = 0; j < Dk; ++j) qk += q[tp * Dk + j] * k[tp * Dk + j];
      }
      prepare_step<Real, kRead>(a, sa_eff, rho_eff, Ak, Wk, R1, Wq, g, qk, sc[i], nv);
    }
  }
  if (dW0) store_transposed(dW0, A, Dk, Dv);
}

}  // namespace

template <typename Real>
int64_t fwm_rule_workspace_size(int64_t BH, int64_t Dk, int64_t Dv, int64_t C) {
  return team_size(BH) * slice_vectors<Real>(Dk, Dv, C) * kLanes<Real>;
}

template <typename Real>
void fwm_rule_forward_cpu(Real* y, Real* WT, Real* checkpoints, const Real* q, const Real* k,
                          const Real* v, const Real* beta, const Real* W0, bool clamp_first_step,
                          int64_t BH, int64_t T, int64_t Dk, int64_t Dv, int64_t C,
                          Real* workspace) {
  const int64_t slice = slice_vectors<Real>(Dk, Dv, C) * kLanes<Real>;
  const int64_t ncp = fwm_rule_checkpoints(T, C);
#pragma omp parallel num_threads(team_size(BH))
  {
    FlushDenormals flush;
    Real* ws = workspace + omp_get_thread_num() * slice;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < BH; ++n) {
      Real* cps = checkpoints ? checkpoints + n * ncp * Dk * Dv : nullptr;
      const Real* W0n = W0 ? W0 + n * Dv * Dk : nullptr;
      if (q)
        forward_sequence<Real, true>(y + n * T * Dv, WT + n * Dv * Dk, cps, q + n * T * Dk,
                                     k + n * T * Dk, v + n * T * Dv, beta + n * T, W0n,
                                     clamp_first_step, T, Dk, Dv, C, ws);
      else
        forward_sequence<Real, false>(nullptr, WT + n * Dv * Dk, cps, nullptr, k + n * T * Dk,
                                      v + n * T * Dv, beta + n * T, W0n, clamp_first_step, T,
                                      Dk, Dv, C, ws);
    }
  }
}

template <typename Real>
void fwm_rule_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                           const Real* grad_y, const Real* grad_WT, const Real* q, const Real* k,
                           const Real* v, const Real* beta, const Real* checkpoints,
                           bool clamp_first_step, int64_t BH, int64_t T, int64_t Dk, int64_t Dv,
                           int64_t C, Real* workspace) {
  const int64_t slice = slice_vectors<Real>(Dk, Dv, C) * kLanes<Real>;
  const int64_t ncp = fwm_rule_checkpoints(T, C);
#pragma omp parallel num_threads(team_size(BH))
  {
    FlushDenormals flush;
    Real* ws = workspace + omp_get_thread_num() * slice;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < BH; ++n) {
      const int64_t tk = n * T * Dk, tv = n * T * Dv, s = n * Dv * Dk;
      const Real* cps = checkpoints + n * ncp * Dk * Dv;
      Real* dW0n = dW0 ? dW0 + s : nullptr;
      const Real* gWT = grad_WT ? grad_WT + s : nullptr;
      if (q)
        backward_sequence<Real, true>(dq + tk, dk + tk, dv + tv, dbeta + n * T, dW0n,
                                      grad_y + tv, gWT, q + tk, k + tk, v + tv, beta + n * T, cps,
                                      clamp_first_step, T, Dk, Dv, C, ws);
      else
        backward_sequence<Real, false>(nullptr, dk + tk, dv + tv, dbeta + n * T, dW0n, nullptr,
                                       gWT, nullptr, k + tk, v + tv, beta + n * T, cps,
                                       clamp_first_step, T, Dk, Dv, C, ws);
    }
  }
}

#define FWP_INSTANTIATE(R)                                                                       \
  template int64_t fwm_rule_workspace_size<R>(int64_t, int64_t, int64_t, int64_t);             \
  template void fwm_rule_forward_cpu<R>(R*, R*, R*, const R*, const R*, const R*, const R*,    \
                                        const R*, bool, int64_t, int64_t, int64_t, int64_t,    \
                                        int64_t, R*);                                          \
  template void fwm_rule_backward_cpu<R>(R*, R*, R*, R*, R*, const R*, const R*, const R*,     \
                                         const R*, const R*, const R*, const R*, bool, int64_t, \
                                         int64_t, int64_t, int64_t, int64_t, R*);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels::FWP_SIMD_ISA
