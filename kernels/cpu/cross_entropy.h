// Cross-entropy of logits against integer targets, fused with the log-softmax:
//   loss_n = lse_n - x[n, t_n],   lse_n = m_n + log sum_v exp(x[n, v] - m_n),  m_n = max_v x[n, v]
//   dx[n, v] = dloss_n (softmax(x[n])_v - [v == t_n]),   softmax(x[n])_v = exp(x[n, v] - lse_n)
// Nothing V-sized is stored besides the logits themselves: the forward keeps lse (N) and the
// backward recomputes softmax on the fly. Rows whose target is ignore_index get loss 0 and
// gradient 0. A row whose logits are all -inf has no distribution: loss +inf, gradient 0.
// Targets are assumed valid (0 <= t < V or t == ignore_index): the caller checks them.
#pragma once
#include <cstdint>

namespace fwp::kernels {

// losses (N), lse (N); logits (N, V); targets (N)
template <typename T>
void cross_entropy_forward(T* losses, T* lse, const T* logits, const int64_t* targets, int64_t N,
                           int64_t V, int64_t ignore_index);

// dlogits (N, V) is overwritten; dlosses (N) is dL/dloss_n (the caller folds in the mean's 1/count);
// logits (N, V); lse (N) from the forward; targets (N)
template <typename T>
void cross_entropy_backward(T* dlogits, const T* dlosses, const T* logits, const T* lse,
                            const int64_t* targets, int64_t N, int64_t V, int64_t ignore_index);

// References: plain loops, std::exp, double accumulators, no threads.
template <typename T>
void cross_entropy_forward_naive(T* losses, T* lse, const T* logits, const int64_t* targets,
                                 int64_t N, int64_t V, int64_t ignore_index);
template <typename T>
void cross_entropy_backward_naive(T* dlogits, const T* dlosses, const T* logits, const T* lse,
                                  const int64_t* targets, int64_t N, int64_t V,
                                  int64_t ignore_index);

}  // namespace fwp::kernels
