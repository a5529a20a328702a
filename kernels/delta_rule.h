// The delta rule of fast weight programmers (Schlag et al., ICML 2021), one independent
// recurrence per sequence n in [0, BH) (BH = batch x heads). Per step t, with W (Dv, Dk):
//   vbar_t = W_{t-1} k_t;  u_t = beta_t (v_t - vbar_t);  W_t = W_{t-1} + u_t k_t^T;  y_t = W_t q_t
// Dk is the width of the (feature-mapped) keys and queries ("Ddot" in the paper).
// The forward saves d_t = v_t - vbar_t (O(T Dv) per sequence) beside the final state W_T; the
// backward recomputes u_t = beta_t d_t (bit-identical to the forward's), runs time in reverse and
// REBUILDS W_{t-1} = W_t - u_t k_t^T by subtraction, so no T x Dv x Dk tensor ever exists.
// Outputs are overwritten. *_cpu are the fast kernels (kernels/cpu/delta_rule_cpu.cpp and
// delta_rule_backward_cpu.cpp, OpenMP over sequences and blocks of rows); *_naive are the plain loops they are tested against;
// *_cuda (kernels/cuda/delta_rule_cuda.cu, built with FWP_CUDA) are the GPU twins: the same
// signatures and semantics with every pointer on the device.
#pragma once
#include <cstdint>

namespace fwp::kernels {

// Elements of scratch memory the *_cpu kernels need: one slice of padded state per OpenMP thread.
// The caller allocates it (64-byte aligned, as Tensor storage is); kernels never allocate.
template <typename Real>
int64_t delta_rule_workspace_size(int64_t BH, int64_t Dk, int64_t Dv);

// y is (BH, T, Dv); WT is (BH, Dv, Dk) = W_T; d is (BH, T, Dv), saved for the backward, or null
//   when no gradient is needed. q, k are (BH, T, Dk); v is (BH, T, Dv); beta is
//   (BH, T); W0 is (BH, Dv, Dk) or null for a zero initial state. workspace: see above.
template <typename Real>
void delta_rule_forward_cpu(Real* y, Real* WT, Real* d, const Real* q, const Real* k,
                            const Real* v, const Real* beta, const Real* W0, int64_t BH,
                            int64_t T, int64_t Dk, int64_t Dv, Real* workspace);

template <typename Real>
void delta_rule_forward_naive(Real* y, Real* WT, Real* d, const Real* q, const Real* k,
                              const Real* v, const Real* beta, const Real* W0, int64_t BH,
                              int64_t T, int64_t Dk, int64_t Dv);

// dq, dk are (BH, T, Dk); dv is (BH, T, Dv); dbeta is (BH, T); dW0 is (BH, Dv, Dk).
// grad_y is (BH, T, Dv) or null when y received no gradient (only W_T is used: the backward
//   then skips every q term and sets dq to zero); grad_WT is (BH, Dv, Dk) or null when W_T
//   received no gradient.
// q, k, beta as in the forward; d and WT are what the forward saved and returned.
template <typename Real>
void delta_rule_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                             const Real* grad_y, const Real* grad_WT, const Real* q,
                             const Real* k, const Real* beta, const Real* d, const Real* WT,
                             int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* workspace);

template <typename Real>
void delta_rule_backward_naive(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                               const Real* grad_y, const Real* grad_WT, const Real* q,
                               const Real* k, const Real* beta, const Real* d, const Real* WT,
                               int64_t BH, int64_t T, int64_t Dk, int64_t Dv);

// ---- CUDA twins (defined only when fwp is built with FWP_CUDA). Unlike the CPU kernels they
// throw fwp::Error, for sizes they do not support (Dk > kDeltaRuleCudaMaxDk) and for CUDA errors.
// The forward needs no workspace (pass null). The backward's workspace holds per-block partial
// sums: delta_rule_workspace_size_cuda elements of device memory.
constexpr int64_t kDeltaRuleCudaMaxDk = 256;

template <typename Real>
int64_t delta_rule_workspace_size_cuda(int64_t BH, int64_t T, int64_t Dk, int64_t Dv);

template <typename Real>
void delta_rule_forward_cuda(Real* y, Real* WT, Real* d, const Real* q, const Real* k,
                             const Real* v, const Real* beta, const Real* W0, int64_t BH,
                             int64_t T, int64_t Dk, int64_t Dv, Real* workspace);

template <typename Real>
void delta_rule_backward_cuda(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                              const Real* grad_y, const Real* grad_WT, const Real* q,
                              const Real* k, const Real* beta, const Real* d, const Real* WT,
                              int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* workspace);

// The workspace (elements, on the kernels' device) of the forward (backward == false) or the
// backward kernel of the CPU (cuda == false) or the CUDA twins: what the autograd op allocates.
template <typename Real>
inline int64_t delta_rule_workspace(bool cuda, bool backward, int64_t BH, int64_t T,
                                    int64_t Dk, int64_t Dv) {
#ifdef FWP_WITH_CUDA
  if (cuda) return backward ? delta_rule_workspace_size_cuda<Real>(BH, T, Dk, Dv) : 0;
#else
  (void)cuda;
#endif
  (void)backward;
  (void)T;
  return delta_rule_workspace_size<Real>(BH, Dk, Dv);
}

}  // namespace fwp::kernels
