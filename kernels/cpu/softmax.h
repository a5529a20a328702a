// Softmax and log-softmax over the last dimension: each of `rows` rows of `cols` values on its own.
//   softmax:      y_j = exp(x_j - m) / sum_k exp(x_k - m)        m = max_k x_k (no overflow)
//   log_softmax:  y_j = x_j - lse,   lse = m + log sum_k exp(x_k - m)
//   backward:     softmax      dx_j = y_j (g_j - sum_k g_k y_k)
//                 log_softmax  dx_j = g_j - exp(y_j) sum_k g_k
// -inf entries (masked positions) get probability exactly 0 and gradient exactly 0 (softmax).
// A row that is ALL -inf has no distribution; by contract softmax returns zeros for it and
// log_softmax returns -inf (log of those zeros), and both backwards return finite values (0 and
// g), so a fully masked attention row attends to nothing instead of spreading NaN.
// A NaN anywhere in a row makes the whole output row NaN (never silently zeros).
#pragma once
#include <cstdint>

namespace fwp::kernels {

// out, inp are (rows, cols); out may alias inp.
template <typename T>
void softmax_forward(T* out, const T* inp, int64_t rows, int64_t cols);
// dinp, dout, out are (rows, cols); out is softmax_forward's result. dinp may alias dout.
template <typename T>
void softmax_backward(T* dinp, const T* dout, const T* out, int64_t rows, int64_t cols);

template <typename T>
void log_softmax_forward(T* out, const T* inp, int64_t rows, int64_t cols);
// out is log_softmax_forward's result. dinp may alias dout.
template <typename T>
void log_softmax_backward(T* dinp, const T* dout, const T* out, int64_t rows, int64_t cols);

// References: plain loops, std::exp, double accumulators, no threads.
template <typename T>
void softmax_forward_naive(T* out, const T* inp, int64_t rows, int64_t cols);
template <typename T>
void softmax_backward_naive(T* dinp, const T* dout, const T* out, int64_t rows, int64_t cols);
template <typename T>
void log_softmax_forward_naive(T* out, const T* inp, int64_t rows, int64_t cols);
template <typename T>
void log_softmax_backward_naive(T* dinp, const T* dout, const T* out, int64_t rows, int64_t cols);

}  // namespace fwp::kernels
