// The gated delta rule (Yang, Kautz & Hatamizadeh, "Gated Delta Networks", ICLR 2025, eq. 10):
// the delta rule of fast weight programmers with a learned decay alpha_t in (0, 1] per step.
// One independent recurrence per sequence n in [0, BH). Per step t, with W (Dv, Dk):
//   W_t = alpha_t (W_{t-1} - beta_t (W_{t-1} k_t) k_t^T) + beta_t v_t k_t^T,   y_t = W_t q_t
// computed as  p_t = W_{t-1} k_t;  d_t = v_t - alpha_t p_t;  u_t = beta_t d_t;
//              W_t = alpha_t W_{t-1} + u_t k_t^T      (alpha_t = 1 is the delta rule)
// The backward must visit W_{t-1} for t = T..1. Rebuilding it from W_t divides by alpha_t, which
// multiplies every rounding error by 1/alpha_t per step (prod 1/alpha over a sequence:
// benchmarks/bench_gated_delta.cpp --what drift). So the forward CHECKPOINTS W every C steps and
// the backward re-runs each segment of C steps from its checkpoint with the forward's own code
// (bit-identical states, so C changes no bit of any gradient), then walks the segment in reverse.
// Memory: ceil(T / C) states per sequence kept between forward and backward, C + 1 per thread
// while the backward runs. Outputs are overwritten. *_cpu: kernels/cpu/gated_delta_rule_cpu.cpp;
// *_naive: kernels/cpu/gated_delta_rule_naive.cpp (plain loops that keep every W_t); *_cuda:
// kernels/cuda/gated_delta_rule_cuda.cu (built with FWP_CUDA), the GPU twins with the same
// signatures, semantics and checkpoint layout, every pointer on the device.
#pragma once
#include <cstdint>

namespace fwp::kernels {

// Checkpoints per sequence: the states after steps 0, C, 2C, .. below T, i.e. ceil(T / C).
inline int64_t gated_delta_rule_checkpoints(int64_t T, int64_t C) { return (T + C - 1) / C; }

// Elements of scratch memory the *_cpu kernels need (one slice per OpenMP thread, 64-byte
// aligned; the caller allocates it). C >= 1 is the checkpoint interval.
template <typename Real>
int64_t gated_delta_rule_workspace_size(int64_t BH, int64_t Dk, int64_t Dv, int64_t C);

// y is (BH, T, Dv); WT is (BH, Dv, Dk) = W_T; checkpoints is (BH, gated_delta_rule_checkpoints(T,
//   C), Dk, Dv), the state before steps 0, C, 2C, .. TRANSPOSED, or null (no backward follows).
// q, k are (BH, T, Dk); v is (BH, T, Dv); beta and alpha are (BH, T); W0 is (BH, Dv, Dk) or null
// for zeros. C >= 1.
template <typename Real>
void gated_delta_rule_forward_cpu(Real* y, Real* WT, Real* checkpoints, const Real* q,
                                  const Real* k, const Real* v, const Real* beta,
                                  const Real* alpha, const Real* W0, int64_t BH, int64_t T,
                                  int64_t Dk, int64_t Dv, int64_t C, Real* workspace);

template <typename Real>
void gated_delta_rule_forward_naive(Real* y, Real* WT, const Real* q, const Real* k,
                                    const Real* v, const Real* beta, const Real* alpha,
                                    const Real* W0, int64_t BH, int64_t T, int64_t Dk,
                                    int64_t Dv);

// dq, dk are (BH, T, Dk); dv is (BH, T, Dv); dbeta, dalpha are (BH, T); dW0 is (BH, Dv, Dk) or
// null (not needed). grad_y is (BH, T, Dv); grad_WT is (BH, Dv, Dk) or null (no gradient on W_T).
// q, k, v, beta, alpha as the forward got them, checkpoints as it wrote them, the same C.
template <typename Real>
void gated_delta_rule_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dalpha,
                                   Real* dW0, const Real* grad_y, const Real* grad_WT,
                                   const Real* q, const Real* k, const Real* v, const Real* beta,
                                   const Real* alpha, const Real* checkpoints, int64_t BH,
                                   int64_t T, int64_t Dk, int64_t Dv, int64_t C,
                                   Real* workspace);

// The same gradients from W0 (or null for zeros) instead of checkpoints: recomputes and keeps
// every W_t of a sequence.
template <typename Real>
void gated_delta_rule_backward_naive(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dalpha,
                                     Real* dW0, const Real* grad_y, const Real* grad_WT,
                                     const Real* q, const Real* k, const Real* v,
                                     const Real* beta, const Real* alpha, const Real* W0,
                                     int64_t BH, int64_t T, int64_t Dk, int64_t Dv);

// ---- CUDA twins (defined only when fwp is built with FWP_CUDA). They throw fwp::Error for
// Dk > kGatedDeltaRuleCudaMaxDk and for CUDA errors. The forward needs no workspace (pass
// null); the backward's holds per-block partial sums and the C states of a segment:
// gated_delta_rule_workspace_size_cuda elements on the device.
constexpr int64_t kGatedDeltaRuleCudaMaxDk = 256;

template <typename Real>
int64_t gated_delta_rule_workspace_size_cuda(int64_t BH, int64_t T, int64_t Dk, int64_t Dv,
                                             int64_t C);

template <typename Real>
void gated_delta_rule_forward_cuda(Real* y, Real* WT, Real* checkpoints, const Real* q,
                                   const Real* k, const Real* v, const Real* beta,
                                   const Real* alpha, const Real* W0, int64_t BH, int64_t T,
                                   int64_t Dk, int64_t Dv, int64_t C, Real* workspace);

template <typename Real>
void gated_delta_rule_backward_cuda(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dalpha,
                                    Real* dW0, const Real* grad_y, const Real* grad_WT,
                                    const Real* q, const Real* k, const Real* v, const Real* beta,
                                    const Real* alpha, const Real* checkpoints, int64_t BH,
                                    int64_t T, int64_t Dk, int64_t Dv, int64_t C,
                                    Real* workspace);

// The workspace (elements, on the kernels' device) of the forward (backward == false) or the
// backward kernel of the CPU (cuda == false) or the CUDA twins: what the autograd op allocates.
template <typename Real>
inline int64_t gated_delta_rule_workspace(bool cuda, bool backward, int64_t BH, int64_t T,
                                          int64_t Dk, int64_t Dv, int64_t C) {
#ifdef FWP_WITH_CUDA
  if (cuda) return backward ? gated_delta_rule_workspace_size_cuda<Real>(BH, T, Dk, Dv, C) : 0;
#else
  (void)cuda;
#endif
  (void)backward;
  (void)T;
  return gated_delta_rule_workspace_size<Real>(BH, Dk, Dv, C);
}

}  // namespace fwp::kernels
