// Softmax attention as one fused op, one independent sequence n in [0, BH) at a time
// (the "flash attention" idea, Dao et al. 2022, on a CPU: never store the T x S probabilities).
// With q_i (Dk), k_j (Dk), v_j (Dv), scale = 1/sqrt(Dk) chosen by the caller, and the set A_i of
// keys query i may see (causal: j <= offset + i; padding: keep[j] != 0):
//   s_ij = scale q_i . k_j        lse_i = log sum_{j in A_i} exp(s_ij)
//   p_ij = exp(s_ij - lse_i) for j in A_i, else 0        y_i = sum_j p_ij v_j
// A query that may see no key gets y_i = 0 and lse_i = -inf (the composed softmax's contract).
// The forward saves only lse (BH, T). The backward recomputes p from q, k and lse; with g = dL/dy
// and D_i = g_i . y_i (= sum_j p_ij g_i . v_j):
//   dv_j = sum_i p_ij g_i      ds_ij = p_ij (g_i . v_j - D_i)
//   dq_i = scale sum_j ds_ij k_j      dk_j = scale sum_i ds_ij q_i
// Outputs are overwritten. *_cpu are the fast kernels (kernels/cpu/softmax_attention_cpu.cpp:
// blocks of query rows, products by small_gemm, exp by fast_exp, OpenMP over sequences);
// *_naive are plain loops with std::exp and double accumulators. *_cuda
// (kernels/cuda/softmax_attention_cuda.cu, built with FWP_CUDA) are the GPU twins: the same
// signatures and semantics with every pointer (mask.keep included) on the device.
#pragma once
#include <algorithm>
#include <cstdint>

namespace fwp::kernels {

// Which keys each query sees. keep is (B, S) with BH = B * H (sequence n belongs to batch n / H),
// nonzero = a real key; null = every key is real. causal: query i sees keys j <= offset + i.
template <typename Real>
struct AttentionMask {
  bool causal = false;
  int64_t offset = 0;
  const Real* keep = nullptr;
  int64_t H = 1;
};

// Number of keys query i may see at most: the first keys_seen of them (padding aside).
template <typename Real>
int64_t keys_seen(const AttentionMask<Real>& m, int64_t i, int64_t S) {
  return m.causal ? std::clamp<int64_t>(m.offset + i + 1, 0, S) : S;
}

// The keep row of sequence n (null when every key is real).
template <typename Real>
const Real* keep_row(const AttentionMask<Real>& m, int64_t n, int64_t S) {
  return m.keep ? m.keep + (n / m.H) * S : nullptr;
}

// Elements of scratch memory the *_cpu kernels need (one slice per OpenMP thread).
template <typename Real>
int64_t softmax_attention_workspace_size(int64_t BH, int64_t T, int64_t S, int64_t Dk, int64_t Dv);

// y (BH, T, Dv), lse (BH, T); q (BH, T, Dk), k (BH, S, Dk), v (BH, S, Dv).
template <typename Real>
void softmax_attention_forward_cpu(Real* y, Real* lse, const Real* q, const Real* k, const Real* v,
                                   const AttentionMask<Real>& mask, Real scale, int64_t BH,
                                   int64_t T, int64_t S, int64_t Dk, int64_t Dv, Real* workspace);
template <typename Real>
void softmax_attention_forward_naive(Real* y, Real* lse, const Real* q, const Real* k,
                                     const Real* v, const AttentionMask<Real>& mask, Real scale,
                                     int64_t BH, int64_t T, int64_t S, int64_t Dk, int64_t Dv);

// dq (BH, T, Dk), dk (BH, S, Dk), dv (BH, S, Dv); grad_y (BH, T, Dv); y and lse from the forward.
template <typename Real>
void softmax_attention_backward_cpu(Real* dq, Real* dk, Real* dv, const Real* grad_y,
                                    const Real* q, const Real* k, const Real* v, const Real* y,
                                    const Real* lse, const AttentionMask<Real>& mask, Real scale,
                                    int64_t BH, int64_t T, int64_t S, int64_t Dk, int64_t Dv,
                                    Real* workspace);
template <typename Real>
void softmax_attention_backward_naive(Real* dq, Real* dk, Real* dv, const Real* grad_y,
                                      const Real* q, const Real* k, const Real* v, const Real* y,
                                      const Real* lse, const AttentionMask<Real>& mask, Real scale,
                                      int64_t BH, int64_t T, int64_t S, int64_t Dk, int64_t Dv);

// ---- CUDA twins (defined only when fwp is built with FWP_CUDA). They throw fwp::Error for
// Dk or Dv above 256 and for CUDA errors. The forward needs no workspace (pass null); the
// backward's holds D_i = g_i . y_i: softmax_attention_workspace_size_cuda elements on the device.
template <typename Real>
int64_t softmax_attention_workspace_size_cuda(int64_t BH, int64_t T, int64_t S, int64_t Dk,
                                              int64_t Dv);
template <typename Real>
void softmax_attention_forward_cuda(Real* y, Real* lse, const Real* q, const Real* k,
                                    const Real* v, const AttentionMask<Real>& mask, Real scale,
                                    int64_t BH, int64_t T, int64_t S, int64_t Dk, int64_t Dv,
                                    Real* workspace);
template <typename Real>
void softmax_attention_backward_cuda(Real* dq, Real* dk, Real* dv, const Real* grad_y,
                                     const Real* q, const Real* k, const Real* v, const Real* y,
                                     const Real* lse, const AttentionMask<Real>& mask, Real scale,
                                     int64_t BH, int64_t T, int64_t S, int64_t Dk, int64_t Dv,
                                     Real* workspace);

// The workspace (elements, on the kernels' device) of the forward (backward == false) or the
// backward kernel of the CPU (cuda == false) or the CUDA twins: what the autograd op allocates.
template <typename Real>
inline int64_t softmax_attention_workspace(bool cuda, bool backward, int64_t BH, int64_t T,
                                           int64_t S, int64_t Dk, int64_t Dv) {
#ifdef FWP_WITH_CUDA
  if (cuda) return backward ? softmax_attention_workspace_size_cuda<Real>(BH, T, S, Dk, Dv) : 0;
#else
  (void)cuda;
#endif
  (void)backward;
  return softmax_attention_workspace_size<Real>(BH, T, S, Dk, Dv);
}

}  // namespace fwp::kernels
