// Internal parts of the chunkwise delta-rule kernels (delta_chunk_cpu.cpp): the two ways to
// multiply, the per-task sizes and buffers, and the per-chunk matrices shared by the forward
// and the backward (docs/CHUNKWISE.md). Every per-chunk matrix is row-major with rows padded to
// whole SIMD vectors by zero columns, so each can be the right operand of small_gemm.
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/blas.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/simd_kernels.h"
#include "kernels/delta_chunk.h"

namespace fwp::kernels::FWP_SIMD_ISA::chunk {

// ChunkGemm::own: small_gemm, inside the OpenMP region. ChunkGemm::blas: OpenBLAS, outside any
// region; it ignores the structure hints and computes full products (the known zeros are
// stored, so the result is the same). A(i, s) = A[i * a_rs + s * a_cs] with a_cs == 1 or a_rs == 1.
template <typename Real>
struct OwnGemm {
  void operator()(Real* C, int64_t ldc, const Real* A, int64_t a_rs, int64_t a_cs,
                  const Real* B, int64_t ldb, int64_t M, int64_t N, int64_t K, Real alpha,
                  bool acc, Tri tri = Tri::none, bool lower_out = false) const {
    FWP_SIMD_ISA::small_gemm<Real>(C, ldc, A, a_rs, a_cs, B, ldb, M, N, K, alpha, acc, tri,
                                   lower_out);  // this copy's, not the dispatching one
  }
};
template <typename Real>
struct BlasGemm {
  void operator()(Real* C, int64_t ldc, const Real* A, int64_t a_rs, int64_t a_cs,
                  const Real* B, int64_t ldb, int64_t M, int64_t N, int64_t K, Real alpha,
                  bool acc, Tri = Tri::none, bool = false) const {
    if (K == 0) {  // an empty sum (Dv = 0): BLAS would reject the zero leading dimension
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = acc ? C[i * ldc + j] : Real(0);
      return;
    }
    const bool trans = a_cs != 1;
    gemm<Real>(trans, false, M, N, K, alpha, A, trans ? a_cs : a_rs, B, ldb,
               acc ? Real(1) : Real(0), C, ldc);
  }
};

// Sizes of one task: chunk C (padded Cp), Dk (Dkp), and its `cols` columns of Dv (cp).
struct Sizes {
  int64_t T, Dk, Dv, C, Cp, Dkp, cols, cp;
};
template <typename Real>
Sizes sizes(int64_t T, int64_t Dk, int64_t Dv, int64_t C, int64_t cols) {
  return {T, Dk, Dv, C, padded<Real>(C), padded<Real>(Dk), cols, padded<Real>(cols)};
}

// Hands out consecutive vector-aligned pieces of a slice (from base null: counts its size).
template <typename Real>
struct Carve {
  Real* p;
  Real* take(int64_t n) {
    Real* r = p;
    p += padded<Real>(n);
    return r;
  }
};

// The per-chunk buffers, named as in docs/CHUNKWISE.md; S is Dk x cols, W and dW cols x Dk.
template <typename Real>
struct ForwardBuffers {
  Real *WQ, *K, *Kt, *L, *P, *Tm, *V, *U, *XO, *S, *beta;  // WQ = [Wy; Q], XO = [Wy S0; Q S0]
  ForwardBuffers(Carve<Real>& c, const Sizes& z)
      : WQ(c.take(2 * z.C * z.Dkp)), K(c.take(z.C * z.Dkp)), Kt(c.take(z.Dk * z.Cp)),
        L(c.take(z.C * z.Cp)), P(c.take(z.C * z.Cp)), Tm(c.take(z.C * z.Cp)),
        V(c.take(z.C * z.cp)), U(c.take(z.C * z.cp)), XO(c.take(2 * z.C * z.cp)),
        S(c.take(z.Dk * z.cp)), beta(c.take(z.C)) {}
};
template <typename Real>
struct BackwardBuffers {
  Real *QW, *K, *Kt, *G, *L, *Tm, *TmT, *P, *dP, *dTm, *M1, *E;  // QW = [Q; Wy]
  Real *Vt, *Ut, *dUt, *U, *R, *dQW, *dK, *dV, *W, *dW, *beta, *dbeta;  // R = [dO; -dU]
  BackwardBuffers(Carve<Real>& c, const Sizes& z)
      : QW(c.take(2 * z.C * z.Dkp)), K(c.take(z.C * z.Dkp)), Kt(c.take(z.Dk * z.Cp)),
        G(c.take(z.C * z.Cp)), L(c.take(z.C * z.Cp)), Tm(c.take(z.C * z.Cp)),
        TmT(c.take(z.C * z.Cp)), P(c.take(z.C * z.Cp)), dP(c.take(z.C * z.Cp)),
        dTm(c.take(z.C * z.Cp)), M1(c.take(z.C * z.Cp)), E(c.take(z.C * z.Cp)),
        Vt(c.take(z.cols * z.Cp)), Ut(c.take(z.cols * z.Cp)), dUt(c.take(z.cols * z.Cp)),
        U(c.take(z.C * z.cp)), R(c.take(2 * z.C * z.cp)), dQW(c.take(2 * z.C * z.Dkp)),
        dK(c.take(z.C * z.Dkp)), dV(c.take(z.C * z.cp)), W(c.take(z.cols * z.Dkp)),
        dW(c.take(z.cols * z.Dkp)), beta(c.take(z.C)), dbeta(c.take(z.C)) {}
};

// How the kernels split the work, and the workspace that needs: nb column blocks per sequence
// (more than one only when BH < threads, and never with BLAS, which threads each call itself),
// partial dq, dk, dbeta per block (added up at the end), and one slice per thread.
struct Plan {
  int64_t nb, max_cols, partial, slice, threads;
};
template <typename Real>
Plan make_plan(int64_t BH, int64_t T, int64_t Dk, int64_t Dv, int64_t C, ChunkGemm gemm) {
  Plan p{};
  const int64_t threads = omp_get_max_threads();
  p.nb = gemm == ChunkGemm::own && BH < threads
             ? std::max<int64_t>(1, std::min((threads + BH - 1) / BH, vec_count<Real>(Dv)))
             : 1;
  p.max_cols = std::min(Dv, (vec_count<Real>(Dv) + p.nb - 1) / p.nb * kLanes<Real>);
  p.partial = p.nb > 1 ? padded<Real>(p.nb * BH * T * (2 * Dk + 1)) : 0;
  const Sizes z = sizes<Real>(T, Dk, Dv, C, p.max_cols);
  Carve<Real> f{nullptr}, b{nullptr};
  ForwardBuffers<Real> fb(f, z);
  BackwardBuffers<Real> bb(b, z);
  p.slice = std::max(f.p - static_cast<Real*>(nullptr), b.p - static_cast<Real*>(nullptr));
  p.threads = gemm == ChunkGemm::own ? team_size(BH * p.nb) : 1;
  return p;
}
// Block b of nb: whole vectors of Dv, as even as possible; returns (first column, count).
template <typename Real>
std::pair<int64_t, int64_t> column_block(int64_t b, int64_t nb, int64_t Dv) {
  const int64_t nv = vec_count<Real>(Dv), L = kLanes<Real>;
  const int64_t c0 = b * nv / nb * L, c1 = std::min(Dv, (b + 1) * nv / nb * L);
  return {c0, c1 - c0};
}

// dst (rows x ld): the first `valid` rows get n values of src (row stride lds), zero-padded to
// ld; the other rows are zero.
template <typename Real>
void copy_rows(Real* dst, int64_t ld, const Real* src, int64_t lds, int64_t valid, int64_t rows,
               int64_t n) {
  for (int64_t t = 0; t < rows; ++t) {
    const int64_t m = t < valid ? n : 0;
    if (m > 0) std::memcpy(dst + t * ld, src + t * lds, m * sizeof(Real));
    std::fill(dst + t * ld + m, dst + (t + 1) * ld, Real(0));
  }
}

// dst (n x ld) = sign * the transpose of src (rows x n, row stride lds), zero beyond column rows.
template <typename Real>
void transpose(Real* dst, int64_t ld, const Real* src, int64_t lds, int64_t rows, int64_t n,
               Real sign = 1) {
  for (int64_t j = 0; j < n; ++j) std::fill(dst + j * ld + rows, dst + (j + 1) * ld, Real(0));
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t j = 0; j < n; ++j) dst[j * ld + t] = sign * src[t * lds + j];
}

// Zero X(t, s) above the diagonal (s > t), for s < ld.
template <typename Real>
void keep_lower(Real* X, int64_t ld, int64_t C) {
  for (int64_t t = 0; t < C; ++t)
    for (int64_t s = t + 1; s < ld; ++s) X[t * ld + s] = 0;
}

// The matrices of a chunk that depend only on K, Q and beta (docs/CHUNKWISE.md, forward 1-4):
//   G = K K^T;  L = tril(diag(beta) G, -1);  (I + L) Tm = diag(beta), i.e. for the rows
//   Tm_t = beta_t e_t - sum_{s<t} L_ts Tm_s;  P = (Q K^T) .* M (M incl. the diagonal);  Wy = Tm K.
// G may be L's buffer (the forward does not need G again).
template <typename Real, typename Gemm>
void prepare_chunk(const Gemm& mm, Real* G, Real* L, Real* Tm, Real* P, Real* Wy, const Real* K,
                   const Real* Kt, const Real* Q, const Real* beta, const Sizes& z) {
  constexpr int64_t Ln = kLanes<Real>;
  const int64_t C = z.C, Cp = z.Cp;
  mm(G, Cp, K, z.Dkp, 1, Kt, Cp, C, Cp, z.Dk, Real(1), false, Tri::none, true);
  for (int64_t t = 0; t < C; ++t)
    for (int64_t s = 0; s < Cp; ++s) L[t * Cp + s] = s < t ? beta[t] * G[t * Cp + s] : Real(0);
  // column by column: once row s is final, take its share out of every later row (independent
  // updates, not one long dependent chain per row); row s of Tm is zero beyond column s
  for (int64_t t = 0; t < C; ++t)
    for (int64_t s = 0; s < Cp; ++s) Tm[t * Cp + s] = s == t ? beta[t] : Real(0);
  for (int64_t s = 0; s < C; ++s)
    for (int64_t t = s + 1; t < C; ++t) {
      const Real l = L[t * Cp + s];
      for (int64_t c = 0; c < vec_count<Real>(s + 1); ++c)
        storeu(Tm + t * Cp + c * Ln, loadu(Tm + t * Cp + c * Ln) - l * loadu(Tm + s * Cp + c * Ln));
    }
  mm(P, Cp, Q, z.Dkp, 1, Kt, Cp, C, Cp, z.Dk, Real(1), false, Tri::none, true);
  keep_lower(P, Cp, C);
  mm(Wy, z.Dkp, Tm, Cp, 1, K, z.Dkp, C, z.Dkp, C, Real(1), false, Tri::lower);
}

}  // namespace fwp::kernels::FWP_SIMD_ISA::chunk
