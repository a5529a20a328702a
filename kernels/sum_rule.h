// The sum rule (= causal linear attention, Katharopoulos et al. 2020), one independent recurrence
// per sequence n in [0, BH). Per step t, with W (Dv, Dk) and z (Dk):
//   W_t = W_{t-1} + v_t k_t^T      z_t = z_{t-1} + k_t      yhat_t = W_t q_t
//   y_t = yhat_t / (z_t . q_t + eps)   when normalize ("attention normalisation"), else y_t = yhat_t
// z_T is always returned (it is the carried-over normaliser state either way).
// The backward needs W_t for dq_t = W_t^T g_t; it RECOMPUTES the states with a forward sweep from
// W_0 (exact; nothing of size T x Dv x Dk is ever stored), then runs a reverse sweep for
// A = dL/dW_t, which gives dk and dv. dq includes the W_0 term (the authors' kernel drops it).
// Outputs are overwritten. *_cpu are the fast kernels (kernels/cpu/sum_rule_cpu.cpp);
// *_naive are plain loops; *_cuda (kernels/cuda/sum_rule_cuda.cu, built with FWP_CUDA) are the
// GPU twins, the same signatures and semantics with every pointer on the device.
#pragma once
#include <cstdint>

namespace fwp::kernels {

// Elements of scratch memory the *_cpu kernels need (one slice per OpenMP thread; 64-byte
// aligned; the caller allocates it).
template <typename Real>
int64_t sum_rule_workspace_size(int64_t BH, int64_t Dk, int64_t Dv);

// y is (BH, T, Dv); WT is (BH, Dv, Dk); zT is (BH, Dk); den is (BH, T), the denominators
//   z_t . q_t + eps saved for the backward (written when normalize and den is not null).
// q, k are (BH, T, Dk); v is (BH, T, Dv); W0 is (BH, Dv, Dk) and z0 is (BH, Dk), or null = zeros.
template <typename Real>
void sum_rule_forward_cpu(Real* y, Real* WT, Real* zT, Real* den, const Real* q, const Real* k,
                          const Real* v, const Real* W0, const Real* z0, bool normalize, Real eps,
                          int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* workspace);

template <typename Real>
void sum_rule_forward_naive(Real* y, Real* WT, Real* zT, Real* den, const Real* q, const Real* k,
                            const Real* v, const Real* W0, const Real* z0, bool normalize,
                            Real eps, int64_t BH, int64_t T, int64_t Dk, int64_t Dv);

// dq, dk are (BH, T, Dk); dv is (BH, T, Dv); dW0 is (BH, Dv, Dk); dz0 is (BH, Dk).
// grad_y is (BH, T, Dv); grad_WT (BH, Dv, Dk) and grad_zT (BH, Dk) may be null (no gradient).
// y and den are the forward's outputs (den is ignored unless normalize).
template <typename Real>
void sum_rule_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dW0, Real* dz0,
                           const Real* grad_y, const Real* grad_WT, const Real* grad_zT,
                           const Real* q, const Real* k, const Real* v, const Real* W0,
                           const Real* z0, const Real* y, const Real* den, bool normalize,
                           int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* workspace);

template <typename Real>
void sum_rule_backward_naive(Real* dq, Real* dk, Real* dv, Real* dW0, Real* dz0,
                             const Real* grad_y, const Real* grad_WT, const Real* grad_zT,
                             const Real* q, const Real* k, const Real* v, const Real* W0,
                             const Real* z0, const Real* y, const Real* den, bool normalize,
                             int64_t BH, int64_t T, int64_t Dk, int64_t Dv);

// ---- CUDA twins (defined only when fwp is built with FWP_CUDA). They throw fwp::Error for
// Dk > kSumRuleCudaMaxDk and for CUDA errors. The forward needs no workspace (pass null); the
// backward's holds per-block partial sums: sum_rule_workspace_size_cuda elements on the device.
constexpr int64_t kSumRuleCudaMaxDk = 256;

template <typename Real>
int64_t sum_rule_workspace_size_cuda(int64_t BH, int64_t T, int64_t Dk, int64_t Dv);

template <typename Real>
void sum_rule_forward_cuda(Real* y, Real* WT, Real* zT, Real* den, const Real* q, const Real* k,
                           const Real* v, const Real* W0, const Real* z0, bool normalize, Real eps,
                           int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* workspace);

template <typename Real>
void sum_rule_backward_cuda(Real* dq, Real* dk, Real* dv, Real* dW0, Real* dz0,
                            const Real* grad_y, const Real* grad_WT, const Real* grad_zT,
                            const Real* q, const Real* k, const Real* v, const Real* W0,
                            const Real* z0, const Real* y, const Real* den, bool normalize,
                            int64_t BH, int64_t T, int64_t Dk, int64_t Dv, Real* workspace);

// The workspace (elements, on the kernels' device) of the forward (backward == false) or the
// backward kernel of the CPU (cuda == false) or the CUDA twins: what the autograd op allocates.
template <typename Real>
inline int64_t sum_rule_workspace(bool cuda, bool backward, int64_t BH, int64_t T,
                                  int64_t Dk, int64_t Dv) {
#ifdef FWP_WITH_CUDA
  if (cuda) return backward ? sum_rule_workspace_size_cuda<Real>(BH, T, Dk, Dv) : 0;
#else
  (void)cuda;
#endif
  (void)backward;
  (void)T;
  return sum_rule_workspace_size<Real>(BH, Dk, Dv);
}

}  // namespace fwp::kernels
