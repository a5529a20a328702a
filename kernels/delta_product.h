// DeltaProduct (Siems et al. 2025): the delta rule taken n times per token, one independent
// recurrence per sequence in [0, BH). Per token t and write j = 1..n, with W (Dv, Dk) and the
// write's row s = t n + j - 1 of k, v, beta:
//   vbar_s = W k_s;  d_s = v_s - vbar_s;  u_s = beta_s d_s;  W <- W + u_s k_s^T
// and after the n writes of token t:  y_t = W_t q_t.
// As the delta rule's kernels (kernels/delta_rule.h) do, the forward saves d_s (O(T n Dv) per
// sequence) beside W_T, and the backward runs the writes in reverse, REBUILDING the state before
// each one by subtraction, W_{s-1} = W_s - u_s k_s^T, so no state is kept per step. The math of
// the backward: the top of autograd/delta_product_op.cpp. Outputs are overwritten.
// On the CPU only plain loops so far (kernels/cpu/delta_product_naive.cpp): the op's *_cpu
// kernels below call them; a SIMD pair would take those names, tested against these. The *_cuda
// twins (kernels/cuda/delta_product_cuda.cu, built with FWP_CUDA) have the same signatures and
// semantics with every pointer on the device.
#pragma once
#include <cstdint>

namespace fwp::kernels {

// y is (BH, T, Dv), or null with q null (write only: nothing is read); WT is (BH, Dv, Dk) = W_T;
// d is (BH, T n, Dv), saved for the backward, or null when no gradient is needed.
// q is (BH, T, Dk) or null; k is (BH, T n, Dk); v is (BH, T n, Dv); beta is (BH, T n); W0 is
// (BH, Dv, Dk) or null for a zero initial state. n >= 1 writes per token.
template <typename Real>
void delta_product_forward_naive(Real* y, Real* WT, Real* d, const Real* q, const Real* k,
                                 const Real* v, const Real* beta, const Real* W0, int64_t BH,
                                 int64_t T, int64_t n, int64_t Dk, int64_t Dv);

// dq is (BH, T, Dk), or null with q null; dk is (BH, T n, Dk); dv is (BH, T n, Dv); dbeta is
// (BH, T n); dW0 is (BH, Dv, Dk) or null (not needed). grad_y is (BH, T, Dv) or null (y unused:
// dq becomes zero); grad_WT is (BH, Dv, Dk) or null (no gradient on W_T). q, k, beta as the
// forward got them; d and WT as it saved and returned them.
template <typename Real>
void delta_product_backward_naive(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                                  const Real* grad_y, const Real* grad_WT, const Real* q,
                                  const Real* k, const Real* beta, const Real* d, const Real* WT,
                                  int64_t BH, int64_t T, int64_t n, int64_t Dk, int64_t Dv);

// What the op calls on the CPU: the plain loops (see above).
template <typename Real>
inline void delta_product_forward_cpu(Real* y, Real* WT, Real* d, const Real* q, const Real* k,
                                      const Real* v, const Real* beta, const Real* W0, int64_t BH,
                                      int64_t T, int64_t n, int64_t Dk, int64_t Dv) {
  delta_product_forward_naive<Real>(y, WT, d, q, k, v, beta, W0, BH, T, n, Dk, Dv);
}
template <typename Real>
inline void delta_product_backward_cpu(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                                       const Real* grad_y, const Real* grad_WT, const Real* q,
                                       const Real* k, const Real* beta, const Real* d,
                                       const Real* WT, int64_t BH, int64_t T, int64_t n,
                                       int64_t Dk, int64_t Dv) {
  delta_product_backward_naive<Real>(dq, dk, dv, dbeta, dW0, grad_y, grad_WT, q, k, beta, d, WT,
                                     BH, T, n, Dk, Dv);
}

// ---- CUDA twins (defined only when fwp is built with FWP_CUDA). n writes per token are the
// delta rule over T n steps that reads after every n-th write only, so they run the delta rule's
// CUDA kernels (kernels/delta_rule.h; Dk <= kDeltaRuleCudaMaxDk) with scratch memory of their
// own from the device allocator. They throw fwp::Error for unsupported sizes and CUDA errors.
template <typename Real>
void delta_product_forward_cuda(Real* y, Real* WT, Real* d, const Real* q, const Real* k,
                                const Real* v, const Real* beta, const Real* W0, int64_t BH,
                                int64_t T, int64_t n, int64_t Dk, int64_t Dv);
template <typename Real>
void delta_product_backward_cuda(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                                 const Real* grad_y, const Real* grad_WT, const Real* q,
                                 const Real* k, const Real* beta, const Real* d, const Real* WT,
                                 int64_t BH, int64_t T, int64_t n, int64_t Dk, int64_t Dv);

}  // namespace fwp::kernels
