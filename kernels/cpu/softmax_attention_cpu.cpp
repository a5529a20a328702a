// Fused softmax attention kernels (math in kernels/softmax_attention.h).
// One OpenMP task per sequence; inside it, query rows go in blocks of kBlockRows. For a block the
// scores s = scale Q_blk K^T live in an L2-sized buffer P (kBlockRows x S) and turn into
// probabilities in place, so nothing of size T x S outlives the block. A causal block needs only
// the keys j < offset + i_end, so later blocks multiply longer rows: the triangle comes free at
// block granularity. The products are small_gemm calls (kernels/cpu/small_gemm.h, usable inside
// the OpenMP region); operands it wants row-major and padded to whole vectors (K^T, V, V^T, K)
// are copied once per sequence into the thread's workspace.
#include "kernels/softmax_attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/cpu/fast_exp.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/simd_kernels.h"

namespace fwp::kernels::FWP_SIMD_ISA {

namespace {

// C (M, N) = alpha A B (+ C): this copy's small_gemm (kernels/cpu/small_gemm.h). An unqualified
// call would also find the dispatching small_gemm, through the argument of type Tri.
template <typename Real>
void gemm(Real* C, int64_t ldc, const Real* A, int64_t a_rs, int64_t a_cs, const Real* B,
          int64_t ldb, int64_t M, int64_t N, int64_t K, Real alpha, bool accumulate) {
  FWP_SIMD_ISA::small_gemm<Real>(C, ldc, A, a_rs, a_cs, B, ldb, M, N, K, alpha, accumulate,
                                 Tri::none, false);
}

constexpr int64_t kBlockRows = 64;

// The pieces of one thread's workspace slice, in elements.
struct Layout {
  int64_t Sp, Dkp, Dvp, R;  // padded sizes; R = rows per block
  int64_t kt, vp, p, yp, vt, kp, qp, gp, dp, dvp, dkp, dqp, total;  // offsets
};

template <typename Real>
Layout layout(int64_t T, int64_t S, int64_t Dk, int64_t Dv) {
  Layout l{};
  l.Sp = padded<Real>(S);
  l.Dkp = padded<Real>(Dk);
  l.Dvp = padded<Real>(Dv);
  l.R = std::min(T, kBlockRows);
  int64_t at = 0;
  auto take = [&](int64_t n) { const int64_t o = at; at += padded<Real>(n); return o; };
  l.kt = take(Dk * l.Sp);      // K^T (Dk, Sp)            forward and backward
  l.vp = take(l.Sp * l.Dvp);   // V (Sp, Dvp)             forward
  l.p = take(l.R * l.Sp);      // scores / probabilities  forward and backward
  l.yp = take(l.R * l.Dvp);    // a block of y            forward
  l.vt = take(Dv * l.Sp);      // V^T (Dv, Sp)            backward
  l.kp = take(l.Sp * l.Dkp);   // K (Sp, Dkp)             backward
  l.qp = take(l.R * l.Dkp);    // a block of q            backward
  l.gp = take(l.R * l.Dvp);    // a block of grad_y       backward
  l.dp = take(l.R * l.Sp);     // dP, then dS             backward
  l.dvp = take(l.Sp * l.Dvp);  // dV accumulator          backward
  l.dkp = take(l.Sp * l.Dkp);  // dK accumulator          backward
  l.dqp = take(l.R * l.Dkp);   // a block of dq           backward
  l.total = at;
  return l;
}

// dst (rows, ld) <- src (rows, cols), the columns cols..ld-1 left as they are (zeros).
template <typename Real>
void copy_rows(Real* dst, int64_t ld, const Real* src, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * ld, src + r * cols, cols * sizeof(Real));
}
template <typename Real>
void copy_rows_out(Real* dst, int64_t cols, const Real* src, int64_t ld, int64_t rows) {
  for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * cols, src + r * ld, cols * sizeof(Real));
}
// dst (cols, ld) <- src (rows, cols) transposed.
template <typename Real>
void transpose_into(Real* dst, int64_t ld, const Real* src, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * ld + r] = src[r * cols + c];
}

// Scores of query rows [i0, i0 + rows) against the first `width` keys (a whole number of vectors;
// P and K^T both have row stride ld): P[r, j] = scale q_{i0+r} . k_j, then -inf wherever query
// i0 + r may not see key j (masked, after it, or padding).
template <typename Real>
void block_scores(Real* P, const Real* q, const Real* KT, int64_t ld, const AttentionMask<Real>& m,
                  const Real* keep, Real scale, int64_t i0, int64_t rows, int64_t width, int64_t S,
                  int64_t Dk) {
  gemm<Real>(P, ld, q + i0 * Dk, Dk, 1, KT, ld, rows, width, Dk, scale, false);
  const Real ninf = -std::numeric_limits<Real>::infinity();
  for (int64_t r = 0; r < rows; ++r) {
    Real* row = P + r * ld;
    const int64_t ni = keys_seen(m, i0 + r, S);
    if (keep)
      for (int64_t j = 0; j < ni; ++j) row[j] = keep[j] != Real(0) ? row[j] : ninf;
    for (int64_t j = ni; j < width; ++j) row[j] = ninf;
  }
}

template <typename Real>
void forward_sequence(Real* y, Real* lse, const Real* q, const Real* k, const Real* v,
                      const AttentionMask<Real>& m, const Real* keep, Real scale, int64_t T,
                      int64_t S, int64_t Dk, int64_t Dv, const Layout& l, Real* ws) {
  Real *KT = ws + l.kt, *Vp = ws + l.vp, *P = ws + l.p, *Yp = ws + l.yp;
  transpose_into(KT, l.Sp, k, S, Dk);
  copy_rows(Vp, l.Dvp, v, S, Dv);
  const Real ninf = -std::numeric_limits<Real>::infinity();
  for (int64_t i0 = 0; i0 < T; i0 += l.R) {
    const int64_t rows = std::min(l.R, T - i0);
    const int64_t n = keys_seen(m, i0 + rows - 1, S);  // the last row sees the most keys
    if (n == 0) {  // no query of the block sees a key
      std::fill(y + i0 * Dv, y + (i0 + rows) * Dv, Real(0));
      std::fill(lse + i0, lse + i0 + rows, ninf);
      continue;
    }
    const int64_t width = padded<Real>(n);
    block_scores(P, q, KT, l.Sp, m, keep, scale, i0, rows, width, S, Dk);
    for (int64_t r = 0; r < rows; ++r) {
      Real* row = P + r * l.Sp;
      Real mx = ninf;
      for (int64_t j = 0; j < width; ++j) mx = std::max(mx, row[j]);
      if (mx == ninf) {  // this query sees no key: p = 0, y = 0
        std::fill(row, row + width, Real(0));
        lse[i0 + r] = ninf;
        continue;
      }
      Real sum = 0;
      for (int64_t j = 0; j < width; ++j) {
        row[j] = fast_exp(row[j] - mx);
        sum += row[j];
      }
      const Real inv = Real(1) / sum;
      for (int64_t j = 0; j < width; ++j) row[j] *= inv;
      lse[i0 + r] = mx + std::log(sum);
    }
    gemm<Real>(Yp, l.Dvp, P, l.Sp, 1, Vp, l.Dvp, rows, l.Dvp, width, Real(1), false);
    copy_rows_out(y + i0 * Dv, Dv, Yp, l.Dvp, rows);
  }
}

template <typename Real>
void backward_sequence(Real* dq, Real* dk, Real* dv, const Real* g, const Real* q, const Real* k,
                       const Real* v, const Real* y, const Real* lse, const AttentionMask<Real>& m,
                       const Real* keep, Real scale, int64_t T, int64_t S, int64_t Dk, int64_t Dv,
                       const Layout& l, Real* ws) {
  Real *KT = ws + l.kt, *P = ws + l.p, *VT = ws + l.vt, *Kp = ws + l.kp, *Qp = ws + l.qp;
  Real *Gp = ws + l.gp, *dP = ws + l.dp, *dVp = ws + l.dvp, *dKp = ws + l.dkp, *dQp = ws + l.dqp;
  transpose_into(KT, l.Sp, k, S, Dk);
  transpose_into(VT, l.Sp, v, S, Dv);
  copy_rows(Kp, l.Dkp, k, S, Dk);
  std::fill(dVp, dVp + l.Sp * l.Dvp, Real(0));
  std::fill(dKp, dKp + l.Sp * l.Dkp, Real(0));
  const Real ninf = -std::numeric_limits<Real>::infinity();
  for (int64_t i0 = 0; i0 < T; i0 += l.R) {
    const int64_t rows = std::min(l.R, T - i0);
    const int64_t n = keys_seen(m, i0 + rows - 1, S);
    if (n == 0) {
      std::fill(dq + i0 * Dk, dq + (i0 + rows) * Dk, Real(0));
      continue;
    }
    const int64_t width = padded<Real>(n);
    // p, recomputed from the saved log-sum-exp
    block_scores(P, q, KT, l.Sp, m, keep, scale, i0, rows, width, S, Dk);
    for (int64_t r = 0; r < rows; ++r) {
      Real* row = P + r * l.Sp;
      const Real L = lse[i0 + r];
      if (L == ninf) {
        std::fill(row, row + width, Real(0));
        continue;
      }
      for (int64_t j = 0; j < width; ++j) row[j] = fast_exp(row[j] - L);
    }
    copy_rows(Qp, l.Dkp, q + i0 * Dk, rows, Dk);
    copy_rows(Gp, l.Dvp, g + i0 * Dv, rows, Dv);
    // dV += P^T G
    gemm<Real>(dVp, l.Dvp, P, 1, l.Sp, Gp, l.Dvp, n, l.Dvp, rows, Real(1), true);
    // dP = G V^T, then dS = P (dP - D) in place
    gemm<Real>(dP, l.Sp, g + i0 * Dv, Dv, 1, VT, l.Sp, rows, width, Dv, Real(1), false);
    for (int64_t r = 0; r < rows; ++r) {
      const Real* gi = g + (i0 + r) * Dv;
      const Real* yi = y + (i0 + r) * Dv;
      Real D = 0;
      for (int64_t c = 0; c < Dv; ++c) D += gi[c] * yi[c];
      const Real* prow = P + r * l.Sp;
      Real* drow = dP + r * l.Sp;
      // masked and padded keys have p = 0 and a finite dP (V^T's padding is zero), so ds = 0
      for (int64_t j = 0; j < width; ++j) drow[j] = prow[j] * (drow[j] - D);
    }
    // dQ = scale dS K;  dK += scale dS^T Q
    gemm<Real>(dQp, l.Dkp, dP, l.Sp, 1, Kp, l.Dkp, rows, l.Dkp, n, scale, false);
    copy_rows_out(dq + i0 * Dk, Dk, dQp, l.Dkp, rows);
    gemm<Real>(dKp, l.Dkp, dP, 1, l.Sp, Qp, l.Dkp, n, l.Dkp, rows, scale, true);
  }
  copy_rows_out(dv, Dv, dVp, l.Dvp, S);
  copy_rows_out(dk, Dk, dKp, l.Dkp, S);
}

}  // namespace

template <typename Real>
int64_t softmax_attention_workspace_size(int64_t BH, int64_t T, int64_t S, int64_t Dk, int64_t Dv) {
  return team_size(BH) * layout<Real>(T, S, Dk, Dv).total;
}

template <typename Real>
void softmax_attention_forward_cpu(Real* y, Real* lse, const Real* q, const Real* k, const Real* v,
                                   const AttentionMask<Real>& mask, Real scale, int64_t BH,
                                   int64_t T, int64_t S, int64_t Dk, int64_t Dv, Real* workspace) {
  const Layout l = layout<Real>(T, S, Dk, Dv);
#pragma omp parallel num_threads(team_size(BH))
  {
    Real* ws = workspace + omp_get_thread_num() * l.total;
    std::fill(ws, ws + l.total, Real(0));  // padding stays zero from here on
#pragma omp for schedule(dynamic, 1)
    for (int64_t n = 0; n < BH; ++n)
      forward_sequence(y + n * T * Dv, lse + n * T, q + n * T * Dk, k + n * S * Dk,
                       v + n * S * Dv, mask, keep_row(mask, n, S), scale, T, S, Dk, Dv, l, ws);
  }
}

template <typename Real>
void softmax_attention_backward_cpu(Real* dq, Real* dk, Real* dv, const Real* grad_y,
                                    const Real* q, const Real* k, const Real* v, const Real* y,
                                    const Real* lse, const AttentionMask<Real>& mask, Real scale,
                                    int64_t BH, int64_t T, int64_t S, int64_t Dk, int64_t Dv,
                                    Real* workspace) {
  const Layout l = layout<Real>(T, S, Dk, Dv);
#pragma omp parallel num_threads(team_size(BH))
  {
    Real* ws = workspace + omp_get_thread_num() * l.total;
    std::fill(ws, ws + l.total, Real(0));
#pragma omp for schedule(dynamic, 1)
    for (int64_t n = 0; n < BH; ++n)
      backward_sequence(dq + n * T * Dk, dk + n * S * Dk, dv + n * S * Dv, grad_y + n * T * Dv,
                        q + n * T * Dk, k + n * S * Dk, v + n * S * Dv, y + n * T * Dv,
                        lse + n * T, mask, keep_row(mask, n, S), scale, T, S, Dk, Dv, l, ws);
  }
}

#define FWP_INSTANTIATE(R)                                                                      \
  template int64_t softmax_attention_workspace_size<R>(int64_t, int64_t, int64_t, int64_t,     \
                                                       int64_t);                               \
  template void softmax_attention_forward_cpu<R>(R*, R*, const R*, const R*, const R*,         \
                                                 const AttentionMask<R>&, R, int64_t, int64_t, \
                                                 int64_t, int64_t, int64_t, R*);               \
  template void softmax_attention_backward_cpu<R>(R*, R*, R*, const R*, const R*, const R*,    \
                                                  const R*, const R*, const R*,                \
                                                  const AttentionMask<R>&, R, int64_t,         \
                                                  int64_t, int64_t, int64_t, int64_t, R*);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels::FWP_SIMD_ISA
