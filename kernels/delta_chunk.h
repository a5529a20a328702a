// The delta rule in chunkwise-parallel form (Yang et al., NeurIPS 2024): the function of
// kernels/delta_rule.h computed C steps at a time. In state orientation S = W^T (Dk x Dv), per chunk
// of rows K, Q (C x Dk), V (C x Dv), beta, entering state S0 (derivation: docs/CHUNKWISE.md):
//   L = tril(diag(beta) K K^T, -1);  Tm = (I + L)^{-1} diag(beta);  Wy = Tm K;  U = Tm V - Wy S0
//   O = Q S0 + ((Q K^T) .* M) U  (M: causal mask incl. the diagonal);  S_C = S0 + K^T U
// The rows of U are the sequential u_t, and U is all the forward saves (beside W_T): the backward
// runs the chunks in reverse and REBUILDS S0 = S_C - K^T U. Outputs are overwritten. *_cpu: OpenMP
// over sequences (or blocks of Dv columns), own SIMD products in the region; *_naive: plain loops.
#pragma once
#include <cstdint>

namespace fwp::kernels {

// How the *_cpu kernels multiply: own micro-kernels inside one OpenMP region (the default,
// parallel over sequences), or OpenBLAS called from outside any region for every product
// (sequences in turn; BLAS threads each call itself). Both give the same results up to rounding;
// the blas variant exists to measure which is faster (bench_delta_chunk --gemm).
enum class ChunkGemm { own, blas };

// Elements of scratch memory the *_cpu kernels need (64-byte aligned, as Tensor storage is):
// one slice of per-chunk matrices per thread, plus partial dq, dk, dbeta when the backward
// splits Dv into column blocks (fewer sequences than threads).
template <typename Real>
int64_t delta_chunk_workspace_size(int64_t BH, int64_t T, int64_t Dk, int64_t Dv, int64_t C,
                                   ChunkGemm gemm = ChunkGemm::own);

// y is (BH, T, Dv); WT is (BH, Dv, Dk) = W_T; u is (BH, T, Dv), the update vectors u_t, saved for
//   the backward, or null when no gradient is needed. q, k are (BH, T, Dk); v is (BH, T, Dv);
//   beta is (BH, T); W0 is (BH, Dv, Dk) or null (zeros). C >= 1 is the chunk size.
template <typename Real>
void delta_chunk_forward_cpu(Real* y, Real* WT, Real* u, const Real* q, const Real* k,
                             const Real* v, const Real* beta, const Real* W0, int64_t BH,
                             int64_t T, int64_t Dk, int64_t Dv, int64_t C, Real* workspace,
                             ChunkGemm gemm = ChunkGemm::own);

template <typename Real>
void delta_chunk_forward_naive(Real* y, Real* WT, Real* u, const Real* q, const Real* k,
                               const Real* v, const Real* beta, const Real* W0, int64_t BH,
                               int64_t T, int64_t Dk, int64_t Dv, int64_t C);

// What the backward is given per step: u_t (saved by the chunkwise forward), or
// d_t = v_t - vbar_t (saved by the sequential forward, kernels/delta_rule.h; u_t = beta_t d_t
// is formed as rows are loaded). So a sequential forward can be followed by a chunkwise backward.
enum class Saved { u, v_minus_vbar };

// dq, dk are (BH, T, Dk); dv is (BH, T, Dv); dbeta is (BH, T); dW0 is (BH, Dv, Dk).
// grad_y is (BH, T, Dv); grad_WT is (BH, Dv, Dk) or null when W_T received no gradient.
// q, k, v, beta as in the forward; saved (BH, T, Dv) and WT are what the forward saved and
// returned, saved as `kind` says.
template <typename Real>
void delta_chunk_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                              const Real* grad_y, const Real* grad_WT, const Real* q,
                              const Real* k, const Real* v, const Real* beta, const Real* saved,
                              Saved kind, const Real* WT, int64_t BH, int64_t T, int64_t Dk,
                              int64_t Dv, int64_t C, Real* workspace,
                              ChunkGemm gemm = ChunkGemm::own);

template <typename Real>
void delta_chunk_backward_naive(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                                const Real* grad_y, const Real* grad_WT, const Real* q,
                                const Real* k, const Real* v, const Real* beta,
                                const Real* saved, Saved kind, const Real* WT, int64_t BH,
                                int64_t T, int64_t Dk, int64_t Dv, int64_t C);

}  // namespace fwp::kernels
