// Chunkwise delta-rule kernels (math in kernels/delta_chunk.h, derivation in docs/CHUNKWISE.md).
// A task is one sequence, or one block of its Dv columns when there are fewer sequences than
// threads: the columns of the state never mix (each is its own delta rule with the same keys),
// so a block is an independent problem whose dq, dk, dbeta add up over the blocks. A task runs
// its chunks in order (the backward in reverse) with every per-chunk matrix in its own slice of
// the workspace (delta_chunk_parts.h); a short last chunk is padded with zero rows (beta = 0,
// k = 0: u = 0 and the state does not move). The forward keeps S = W^T (Dk x cols), the backward
// W and dW (cols x Dk), so every product has a row-major right operand; the forward stacks
// [Wy; Q] to read S once per chunk, the backward [dO; -dU] against W and against [Q; Wy].
#include <omp.h>

#include "kernels/cpu/delta_chunk_parts.h"

namespace fwp::kernels::FWP_SIMD_ISA {

namespace {
using namespace chunk;

// One forward task (docs/CHUNKWISE.md, forward). Rows of y, v, u have stride Dv and start at
// the block's first column; WT and W0 point at the block's first row of W.
template <typename Real, typename Gemm>
void forward_task(const Gemm& mm, Real* y, Real* WT, Real* u, const Real* q, const Real* k,
                  const Real* v, const Real* beta, const Real* W0, const Sizes& z, Real* ws) {
  Carve<Real> carve{ws};
  ForwardBuffers<Real> b(carve, z);
  const int64_t C = z.C, Cp = z.Cp, Dk = z.Dk, Dkp = z.Dkp, cp = z.cp, Dv = z.Dv;
  Real* Q = b.WQ + C * Dkp;
  Real* O = b.XO + C * cp;  // Q S0, then O
  for (int64_t j = 0; j < Dk; ++j)  // S = W0^T
    for (int64_t i = 0; i < cp; ++i) b.S[j * cp + i] = W0 && i < z.cols ? W0[i * Dk + j] : Real(0);
  for (int64_t t0 = 0; t0 < z.T; t0 += C) {
    const int64_t r = std::min(C, z.T - t0);
    copy_rows(b.K, Dkp, k + t0 * Dk, Dk, r, C, Dk);
    copy_rows(Q, Dkp, q + t0 * Dk, Dk, r, C, Dk);
    copy_rows(b.V, cp, v + t0 * Dv, Dv, r, C, z.cols);
    for (int64_t t = 0; t < C; ++t) b.beta[t] = t < r ? beta[t0 + t] : Real(0);
    transpose(b.Kt, Cp, b.K, Dkp, C, Dk);
    prepare_chunk(mm, b.L, b.L, b.Tm, b.P, b.WQ, b.K, b.Kt, Q, b.beta, z);
    mm(b.U, cp, b.Tm, Cp, 1, b.V, cp, C, cp, C, Real(1), false, Tri::lower);  // U = Tm V
    mm(b.XO, cp, b.WQ, Dkp, 1, b.S, cp, 2 * C, cp, Dk, Real(1), false);     // [Wy S0; Q S0]
    for (int64_t e = 0; e < C * cp; ++e) b.U[e] -= b.XO[e];                 // U -= Wy S0
    mm(O, cp, b.P, Cp, 1, b.U, cp, C, cp, C, Real(1), true, Tri::lower);    // O = Q S0 + P U
    mm(b.S, cp, b.K, 1, Dkp, b.U, cp, Dk, cp, C, Real(1), true);            // S += K^T U
    for (int64_t t = 0; t < r; ++t)
      for (int64_t i = 0; i < z.cols; ++i) {
        y[(t0 + t) * Dv + i] = O[t * cp + i];
        if (u) u[(t0 + t) * Dv + i] = b.U[t * cp + i];
      }
  }
  for (int64_t i = 0; i < z.cols; ++i)
    for (int64_t j = 0; j < Dk; ++j) WT[i * Dk + j] = b.S[j * cp + i];
}

// Backward through the triangular inverse and the Gram matrix (docs/CHUNKWISE.md, B3-B1), given
// dTm on and below the diagonal in b.dTm: dbeta of the chunk into b.dbeta, and dK += (dG + dG^T) K.
//   (I + L)^T M1 = dTm;  dbeta_t = M1_tt + sum_{s<t} dL_ts G_ts;  dL = tril(-M1 Tm^T, -1);
//   dG = diag(beta) dL.
template <typename Real, typename Gemm>
void triangular_backward(const Gemm& mm, BackwardBuffers<Real>& b, const Sizes& z) {
  constexpr int64_t Ln = kLanes<Real>;
  const int64_t C = z.C, Cp = z.Cp, Dkp = z.Dkp;
  // M1_t = dTm_t - sum_{s>t} L_st M1_s from the last row up: each row, once final, is taken out
  // of all earlier rows at once (independent updates, not one dependent chain per row)
  std::copy(b.dTm, b.dTm + C * Cp, b.M1);
  for (int64_t s = C - 1; s > 0; --s)
    for (int64_t t = 0; t < s; ++t) {
      const Real l = b.L[s * Cp + t];
      for (int64_t c = 0; c < Cp; c += Ln)
        storeu(b.M1 + t * Cp + c, loadu(b.M1 + t * Cp + c) - l * loadu(b.M1 + s * Cp + c));
    }
  for (int64_t t = 0; t < C; ++t) b.dbeta[t] = b.M1[t * Cp + t];
  transpose(b.TmT, Cp, b.Tm, Cp, C, C);
  mm(b.E, Cp, b.M1, Cp, 1, b.TmT, Cp, C, Cp, C, Real(-1), false, Tri::none, true);  // -M1 Tm^T
  for (int64_t t = 0; t < C; ++t) {  // E = dG + dG^T, built in place from the lower triangle
    for (int64_t s = 0; s < t; ++s) {
      const Real dL = b.E[t * Cp + s];
      b.dbeta[t] += dL * b.G[t * Cp + s];
      b.E[t * Cp + s] = b.E[s * Cp + t] = b.beta[t] * dL;
    }
    b.E[t * Cp + t] = 0;
  }
  mm(b.dK, Dkp, b.E, Cp, 1, b.K, Dkp, C, Dkp, C, Real(1), true);
}

// One backward task (docs/CHUNKWISE.md, sections 3 and 4), chunks in reverse. Pointers as in
// forward_task; dq, dk, dbeta may be a block's partial buffers (same layout as the outputs).
template <typename Real, typename Gemm>
void backward_task(const Gemm& mm, Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                   const Real* gy, const Real* gWT, const Real* q, const Real* k, const Real* v,
                   const Real* beta, const Real* u, Saved kind, const Real* WT, const Sizes& z,
                   Real* ws) {
  Carve<Real> carve{ws};
  BackwardBuffers<Real> b(carve, z);
  const int64_t C = z.C, Cp = z.Cp, Dk = z.Dk, Dkp = z.Dkp, cols = z.cols, cp = z.cp, Dv = z.Dv;
  Real *Q = b.QW, *Wy = b.QW + C * Dkp;       // [Q; Wy]
  Real *dO = b.R, *mdU = b.R + C * cp;        // [dO; -dU]
  Real *dQ = b.dQW, *dWy = b.dQW + C * Dkp;   // [dQ; dWy]
  copy_rows(b.W, Dkp, WT, Dk, cols, cols, Dk);  // W = W_T, dW = dL/dW_T (or zero)
  copy_rows(b.dW, Dkp, gWT ? gWT : WT, Dk, gWT ? cols : 0, cols, Dk);
  for (int64_t t0 = z.T > 0 ? (z.T - 1) / C * C : -1; t0 >= 0; t0 -= C) {
    const int64_t r = std::min(C, z.T - t0);
    copy_rows(b.K, Dkp, k + t0 * Dk, Dk, r, C, Dk);
    copy_rows(Q, Dkp, q + t0 * Dk, Dk, r, C, Dk);
    copy_rows(dO, cp, gy + t0 * Dv, Dv, r, C, cols);
    copy_rows(b.U, cp, u + t0 * Dv, Dv, r, C, cols);
    for (int64_t t = 0; t < C; ++t) b.beta[t] = t < r ? beta[t0 + t] : Real(0);
    if (kind == Saved::v_minus_vbar)  // u_t = beta_t (v_t - vbar_t)
      for (int64_t t = 0; t < r; ++t)
        for (int64_t i = 0; i < cols; ++i) b.U[t * cp + i] *= b.beta[t];
    transpose(b.Vt, Cp, v + t0 * Dv, Dv, r, cols);
    transpose(b.Ut, Cp, b.U, cp, C, cols);
    transpose(b.Kt, Cp, b.K, Dkp, C, Dk);
    // the state entering the chunk, W0 = W_C - U^T K (section 4), and the chunk's matrices
    mm(b.W, Dkp, b.U, 1, cp, b.K, Dkp, cols, Dkp, C, Real(-1), true);
    prepare_chunk(mm, b.G, b.L, b.Tm, b.P, Wy, b.K, b.Kt, Q, b.beta, z);
    // B8, B7: dU^T = dO^T P + dW K^T  (dU = P^T dO + K dS), kept negated in R's lower half
    mm(b.dUt, Cp, dO, 1, cp, b.P, Cp, cols, Cp, C, Real(1), false);
    mm(b.dUt, Cp, b.dW, Dkp, 1, b.Kt, Cp, cols, Cp, Dk, Real(1), true);
    transpose(mdU, cp, b.dUt, Cp, cols, C, Real(-1));
    for (int64_t t = 0; t < C; ++t) std::fill(mdU + t * cp + cols, mdU + (t + 1) * cp, Real(0));
    // B7, B5: [dQ; dWy] = [dO; -dU] W0  (dO S0^T and -dU S0^T)
    mm(b.dQW, Dkp, b.R, cp, 1, b.W, Dkp, 2 * C, Dkp, cols, Real(1), false);
    // B8: dK = U dW  (U dS^T), before dW moves on
    mm(b.dK, Dkp, b.U, cp, 1, b.dW, Dkp, C, Dkp, cols, Real(1), false);
    // B8, B7, B5: dW += [dO; -dU]^T [Q; Wy]  (dS0 = dS + Q^T dO - Wy^T dU)
    mm(b.dW, Dkp, b.R, 1, cp, b.QW, Dkp, cols, Dkp, 2 * C, Real(1), true);
    // B7, B6: dP = (dO U^T) .* M;  dQ += dP K;  dK += dP^T Q
    mm(b.dP, Cp, dO, cp, 1, b.Ut, Cp, C, Cp, cols, Real(1), false, Tri::none, true);
    keep_lower(b.dP, Cp, C);
    mm(dQ, Dkp, b.dP, Cp, 1, b.K, Dkp, C, Dkp, C, Real(1), true, Tri::lower);
    mm(b.dK, Dkp, b.dP, 1, Cp, Q, Dkp, C, Dkp, C, Real(1), true, Tri::upper);
    // B4: dV = Tm^T dU;  dTm = (dWy K^T + dU V^T) .* M;  dK += Tm^T dWy
    mm(b.dV, cp, b.Tm, 1, Cp, mdU, cp, C, cp, C, Real(-1), false, Tri::upper);
    mm(b.dTm, Cp, dWy, Dkp, 1, b.Kt, Cp, C, Cp, Dk, Real(1), false, Tri::none, true);
    mm(b.dTm, Cp, mdU, cp, 1, b.Vt, Cp, C, Cp, cols, Real(-1), true, Tri::none, true);
    keep_lower(b.dTm, Cp, C);
    mm(b.dK, Dkp, b.Tm, 1, Cp, dWy, Dkp, C, Dkp, C, Real(1), true, Tri::upper);
    // B3-B1: dbeta, and the Gram matrix's share of dK
    triangular_backward(mm, b, z);
    for (int64_t t = 0; t < r; ++t) {
      std::copy(dQ + t * Dkp, dQ + t * Dkp + Dk, dq + (t0 + t) * Dk);
      std::copy(b.dK + t * Dkp, b.dK + t * Dkp + Dk, dk + (t0 + t) * Dk);
      std::copy(b.dV + t * cp, b.dV + t * cp + cols, dv + (t0 + t) * Dv);
      dbeta[t0 + t] = b.dbeta[t];
    }
  }
  for (int64_t i = 0; i < cols; ++i) std::copy(b.dW + i * Dkp, b.dW + i * Dkp + Dk, dW0 + i * Dk);
}

}  // namespace

template <typename Real>
int64_t delta_chunk_workspace_size(int64_t BH, int64_t T, int64_t Dk, int64_t Dv, int64_t C,
                                   ChunkGemm gemm) {
  const Plan p = make_plan<Real>(BH, T, Dk, Dv, C, gemm);
  return p.partial + p.threads * p.slice;
}

template <typename Real>
void delta_chunk_forward_cpu(Real* y, Real* WT, Real* u, const Real* q, const Real* k,
                             const Real* v, const Real* beta, const Real* W0, int64_t BH,
                             int64_t T, int64_t Dk, int64_t Dv, int64_t C, Real* workspace,
                             ChunkGemm gemm) {
  const Plan p = make_plan<Real>(BH, T, Dk, Dv, C, gemm);
  auto task = [&](const auto& mm, int64_t n, int64_t blk, Real* ws) {
    const auto [c0, cols] = column_block<Real>(blk, p.nb, Dv);
    forward_task(mm, y + n * T * Dv + c0, WT + (n * Dv + c0) * Dk,
                 u ? u + n * T * Dv + c0 : nullptr, q + n * T * Dk, k + n * T * Dk,
                 v + n * T * Dv + c0, beta + n * T, W0 ? W0 + (n * Dv + c0) * Dk : nullptr,
                 sizes<Real>(T, Dk, Dv, C, cols), ws);
  };
  if (gemm == ChunkGemm::blas) {  // BLAS is never called inside a parallel region
    for (int64_t n = 0; n < BH; ++n) task(BlasGemm<Real>{}, n, 0, workspace);
    return;
  }
#pragma omp parallel num_threads(p.threads)
  {
    Real* ws = workspace + p.partial + omp_get_thread_num() * p.slice;
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < BH * p.nb; ++t) task(OwnGemm<Real>{}, t / p.nb, t % p.nb, ws);
  }
}

template <typename Real>
void delta_chunk_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                              const Real* grad_y, const Real* grad_WT, const Real* q,
                              const Real* k, const Real* v, const Real* beta, const Real* saved,
                              Saved kind, const Real* WT, int64_t BH, int64_t T, int64_t Dk,
                              int64_t Dv, int64_t C, Real* workspace, ChunkGemm gemm) {
  const Plan p = make_plan<Real>(BH, T, Dk, Dv, C, gemm);
  // with several column blocks, block b writes its dq, dk, dbeta into partial buffers
  const int64_t nq = BH * T * Dk, nbeta = BH * T;
  auto task = [&](const auto& mm, int64_t n, int64_t blk, Real* ws) {
    const auto [c0, cols] = column_block<Real>(blk, p.nb, Dv);
    Real* part = workspace + blk * (2 * nq + nbeta);
    Real *q_out = p.nb > 1 ? part : dq, *k_out = p.nb > 1 ? part + nq : dk;
    Real* b_out = p.nb > 1 ? part + 2 * nq : dbeta;
    const int64_t s = (n * Dv + c0) * Dk;
    backward_task(mm, q_out + n * T * Dk, k_out + n * T * Dk, dv + n * T * Dv + c0,
                  b_out + n * T, dW0 + s, grad_y + n * T * Dv + c0,
                  grad_WT ? grad_WT + s : nullptr, q + n * T * Dk, k + n * T * Dk,
                  v + n * T * Dv + c0, beta + n * T, saved + n * T * Dv + c0, kind, WT + s,
                  sizes<Real>(T, Dk, Dv, C, cols), ws);
  };
  if (gemm == ChunkGemm::blas) {
    for (int64_t n = 0; n < BH; ++n) task(BlasGemm<Real>{}, n, 0, workspace);
    return;
  }
#pragma omp parallel num_threads(p.threads)
  {
    Real* ws = workspace + p.partial + omp_get_thread_num() * p.slice;
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < BH * p.nb; ++t) task(OwnGemm<Real>{}, t / p.nb, t % p.nb, ws);
    if (p.nb > 1) {  // add up the blocks' partial dq, dk (rows of Dk) and dbeta
#pragma omp for schedule(static)
      for (int64_t row = 0; row < BH * T; ++row) {
        for (int64_t j = 0; j < Dk; ++j) {
          Real sq = 0, sk = 0;
          for (int64_t blk = 0; blk < p.nb; ++blk) {
            sq += workspace[blk * (2 * nq + nbeta) + row * Dk + j];
            sk += workspace[blk * (2 * nq + nbeta) + nq + row * Dk + j];
          }
          dq[row * Dk + j] = sq;
          dk[row * Dk + j] = sk;
        }
        Real sb = 0;
        for (int64_t blk = 0; blk < p.nb; ++blk) sb += workspace[blk * (2 * nq + nbeta) + 2 * nq + row];
        dbeta[row] = sb;
      }
    }
  }
}

#define FWP_INSTANTIATE(R)                                                                     \
  template int64_t delta_chunk_workspace_size<R>(int64_t, int64_t, int64_t, int64_t, int64_t, \
                                                 ChunkGemm);                                   \
  template void delta_chunk_forward_cpu<R>(R*, R*, R*, const R*, const R*, const R*,         \
                                           const R*, const R*, int64_t, int64_t, int64_t,    \
                                           int64_t, int64_t, R*, ChunkGemm);                 \
  template void delta_chunk_backward_cpu<R>(R*, R*, R*, R*, R*, const R*, const R*, const R*, \
                                            const R*, const R*, const R*, const R*, Saved,    \
                                            const R*, int64_t, int64_t, int64_t, int64_t,     \
                                            int64_t, R*, ChunkGemm);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels::FWP_SIMD_ISA
