// The entry points of one per-instruction-set copy of the SIMD kernels, declared in namespace
// fwp::kernels::FWP_SIMD_ISA (kernels/cpu/simd.h). Each has the signature and meaning of the
// public kernel of the same name (kernels/delta_rule.h, sum_rule.h, fwm_rule.h,
// gated_delta_rule.h, delta_chunk.h, softmax_attention.h, kernels/cpu/small_gemm.h), which
// kernels/cpu/simd_dispatch.cpp forwards to the copy for the CPU. No include guard, on purpose:
// simd_dispatch.cpp includes this file once per instruction set, with FWP_SIMD_ISA defined as
// each name in turn (and it holds only declarations, which may repeat).
#include <cstdint>

#include "kernels/cpu/small_gemm.h"
#include "kernels/delta_chunk.h"
#include "kernels/softmax_attention.h"

#ifndef FWP_SIMD_ISA
#error "define FWP_SIMD_ISA (the instruction set's namespace) before including simd_kernels.h"
#endif

namespace fwp::kernels::FWP_SIMD_ISA {

template <typename Real>
int64_t delta_rule_workspace_size(int64_t BH, int64_t Dk, int64_t Dv);
template <typename Real>
void delta_rule_forward_cpu(Real* y, Real* WT, Real* d, const Real* q, const Real* k,
                            const Real* v, const Real* beta, const Real* W0, int64_t BH,
                            int64_t T, int64_t Dk, int64_t Dv, Real* workspace);
template <typename Real>
void delta_rule_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                             const Real* grad_y, const Real* grad_WT, const Real* q,
                             const Real* k, const Real* beta, const Real* d, const Real* WT,
                             int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* workspace);

template <typename Real>
int64_t sum_rule_workspace_size(int64_t BH, int64_t Dk, int64_t Dv);
template <typename Real>
void sum_rule_forward_cpu(Real* y, Real* WT, Real* zT, Real* den, const Real* q, const Real* k,
                          const Real* v, const Real* W0, const Real* z0, bool normalize, Real eps,
                          int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* workspace);
template <typename Real>
void sum_rule_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dW0, Real* dz0,
                           const Real* grad_y, const Real* grad_WT, const Real* grad_zT,
                           const Real* q, const Real* k, const Real* v, const Real* W0,
                           const Real* z0, const Real* y, const Real* den, bool normalize,
                           int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* workspace);

template <typename Real>
int64_t fwm_rule_workspace_size(int64_t BH, int64_t Dk, int64_t Dv, int64_t C);
template <typename Real>
void fwm_rule_forward_cpu(Real* y, Real* WT, Real* checkpoints, const Real* q, const Real* k,
                          const Real* v, const Real* beta, const Real* W0, bool clamp_first_step,
                          int64_t BH, int64_t T, int64_t Dk, int64_t Dv, int64_t C,
                          Real* workspace);
template <typename Real>
void fwm_rule_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                           const Real* grad_y, const Real* grad_WT, const Real* q, const Real* k,
                           const Real* v, const Real* beta, const Real* checkpoints,
                           bool clamp_first_step, int64_t BH, int64_t T, int64_t Dk, int64_t Dv,
                           int64_t C, Real* workspace);

template <typename Real>
int64_t gated_delta_rule_workspace_size(int64_t BH, int64_t Dk, int64_t Dv, int64_t C);
template <typename Real>
void gated_delta_rule_forward_cpu(Real* y, Real* WT, Real* checkpoints, const Real* q,
                                  const Real* k, const Real* v, const Real* beta,
                                  const Real* alpha, const Real* W0, int64_t BH, int64_t T,
                                  int64_t Dk, int64_t Dv, int64_t C, Real* workspace);
template <typename Real>
void gated_delta_rule_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dalpha,
                                   Real* dW0, const Real* grad_y, const Real* grad_WT,
                                   const Real* q, const Real* k, const Real* v, const Real* beta,
                                   const Real* alpha, const Real* checkpoints, int64_t BH,
                                   int64_t T, int64_t Dk, int64_t Dv, int64_t C,
                                   Real* workspace);

template <typename Real>
int64_t delta_chunk_workspace_size(int64_t BH, int64_t T, int64_t Dk, int64_t Dv, int64_t C,
                                   ChunkGemm gemm);
template <typename Real>
void delta_chunk_forward_cpu(Real* y, Real* WT, Real* u, const Real* q, const Real* k,
                             const Real* v, const Real* beta, const Real* W0, int64_t BH,
                             int64_t T, int64_t Dk, int64_t Dv, int64_t C, Real* workspace,
                             ChunkGemm gemm);
template <typename Real>
void delta_chunk_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                              const Real* grad_y, const Real* grad_WT, const Real* q,
                              const Real* k, const Real* v, const Real* beta, const Real* saved,
                              Saved kind, const Real* WT, int64_t BH, int64_t T, int64_t Dk,
                              int64_t Dv, int64_t C, Real* workspace, ChunkGemm gemm);

template <typename Real>
int64_t softmax_attention_workspace_size(int64_t BH, int64_t T, int64_t S, int64_t Dk, int64_t Dv);
template <typename Real>
void softmax_attention_forward_cpu(Real* y, Real* lse, const Real* q, const Real* k, const Real* v,
                                   const AttentionMask<Real>& mask, Real scale, int64_t BH,
                                   int64_t T, int64_t S, int64_t Dk, int64_t Dv, Real* workspace);
template <typename Real>
void softmax_attention_backward_cpu(Real* dq, Real* dk, Real* dv, const Real* grad_y,
                                    const Real* q, const Real* k, const Real* v, const Real* y,
                                    const Real* lse, const AttentionMask<Real>& mask, Real scale,
                                    int64_t BH, int64_t T, int64_t S, int64_t Dk, int64_t Dv,
                                    Real* workspace);

double fma_peak_gflops(double seconds);

template <typename Real>
void small_gemm(Real* C, int64_t ldc, const Real* A, int64_t a_rs, int64_t a_cs, const Real* B,
                int64_t ldb, int64_t M, int64_t N, int64_t K, Real alpha, bool accumulate,
                Tri a_tri, bool lower_out);

}  // namespace fwp::kernels::FWP_SIMD_ISA
