// Layer normalisation over the last dimension of N rows of D values (Ba, Kiros, Hinton 2016):
//   mean = sum_i x_i / D,   rstd = 1 / sqrt(sum_i (x_i - mean)^2 / D + eps)
//   xhat = (x - mean) * rstd,   out = xhat * weight + bias      (weight, bias optional)
// Backward, with dxhat = dout * weight (or dout without weight):
//   dx = rstd * (dxhat - mean_i(dxhat) - xhat * mean_i(dxhat * xhat))
//   dweight = sum_rows dout * xhat,   dbias = sum_rows dout
// The forward saves mean and rstd (N each) for the backward; variance is the biased one (/D).
#pragma once
#include <cstdint>

namespace fwp::kernels {

// out (N, D), mean (N), rstd (N); inp (N, D); weight (D) and bias (D) may each be nullptr.
template <typename T>
void layernorm_forward(T* out, T* mean, T* rstd, const T* inp, const T* weight, const T* bias,
                       int64_t N, int64_t D, T eps);

// dinp (N, D), dweight (D), dbias (D) are overwritten; any of them may be nullptr (not wanted).
// dout (N, D); inp (N, D); weight (D) or nullptr; mean, rstd (N) from the forward.
template <typename T>
void layernorm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp,
                        const T* weight, const T* mean, const T* rstd, int64_t N, int64_t D);

// References: one row at a time, double accumulators, no threads.
template <typename T>
void layernorm_forward_naive(T* out, T* mean, T* rstd, const T* inp, const T* weight,
                             const T* bias, int64_t N, int64_t D, T eps);
template <typename T>
void layernorm_backward_naive(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp,
                              const T* weight, const T* mean, const T* rstd, int64_t N, int64_t D);

}  // namespace fwp::kernels
