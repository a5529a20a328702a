// Softmax kernels: OpenMP over rows, every pass a unit-stride loop over one row (which stays in
// L1/L2 between passes). Sums accumulate in T across SIMD lanes; the naive twins use double.
#include "kernels/cpu/softmax.h"

#include <cmath>
#include <limits>

#include "kernels/cpu/row_reduce.h"

namespace fwp::kernels {

namespace {

// out_j = exp(x_j - m); returns sum_j out_j
template <typename T>
inline T exp_shifted(T* out, const T* x, T m, int64_t cols) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < cols; ++j) {
    out[j] = fast_exp(x[j] - m);
    s += out[j];
  }
  return s;
}

constexpr int64_t kParallelWork = 32768;  // elements below which threads cost more than they save

}  // namespace

template <typename T>
void softmax_forward(T* out, const T* inp, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelWork && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = inp + r * cols;
    T* y = out + r * cols;
    // pass 1: max
    const T m = row_max(x, cols);
    if (m == -std::numeric_limits<T>::infinity()) {  // fully masked row: zeros by contract
      for (int64_t j = 0; j < cols; ++j) y[j] = T(0);
      continue;
    }
    // pass 2: y = exp(x - max), and its sum
    const T inv = T(1) / exp_shifted(y, x, m, cols);
    // pass 3: normalise
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) y[j] *= inv;
  }
}

template <typename T>
void softmax_backward(T* dinp, const T* dout, const T* out, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelWork && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const T* g = dout + r * cols;
    const T* y = out + r * cols;
    T* dx = dinp + r * cols;
    // pass 1: s = sum_k g_k y_k
    T s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < cols; ++j) s += g[j] * y[j];
    // pass 2: dx_j = y_j (g_j - s)
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) dx[j] = y[j] * (g[j] - s);
  }
}

template <typename T>
void log_softmax_forward(T* out, const T* inp, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelWork && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = inp + r * cols;
    T* y = out + r * cols;
    // pass 1: max
    const T m = row_max(x, cols);
    if (m == -std::numeric_limits<T>::infinity()) {  // fully masked row: -inf by contract
      for (int64_t j = 0; j < cols; ++j) y[j] = m;
      continue;
    }
    // pass 2: lse = max + log sum exp(x - max)
    const T lse = m + std::log(row_sum_exp(x, m, cols));
    // pass 3: y = x - lse
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) y[j] = x[j] - lse;
  }
}

template <typename T>
void log_softmax_backward(T* dinp, const T* dout, const T* out, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelWork && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const T* g = dout + r * cols;
    const T* y = out + r * cols;
    T* dx = dinp + r * cols;
    // pass 1: s = sum_k g_k
    const T s = row_sum(g, cols);
    // pass 2: dx_j = g_j - softmax_j s, softmax_j = exp(y_j)
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) dx[j] = g[j] - fast_exp(y[j]) * s;
  }
}

// ---------------------------------------------------------------- naive twins

template <typename T>
void softmax_forward_naive(T* out, const T* inp, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = inp + r * cols;
    T* y = out + r * cols;
    double m = -INFINITY, s = 0.0;
    for (int64_t j = 0; j < cols; ++j)  // max; NaN if any entry is NaN
      m = std::isnan(m) || std::isnan(double(x[j])) ? NAN : std::fmax(m, double(x[j]));
    for (int64_t j = 0; j < cols; ++j) s += std::exp(double(x[j]) - m);
    for (int64_t j = 0; j < cols; ++j)
      y[j] = m == -INFINITY ? T(0) : static_cast<T>(std::exp(double(x[j]) - m) / s);
  }
}

template <typename T>
void softmax_backward_naive(T* dinp, const T* dout, const T* out, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* g = dout + r * cols;
    const T* y = out + r * cols;
    double s = 0.0;
    for (int64_t j = 0; j < cols; ++j) s += double(g[j]) * y[j];
    for (int64_t j = 0; j < cols; ++j) dinp[r * cols + j] = static_cast<T>(y[j] * (g[j] - s));
  }
}

template <typename T>
void log_softmax_forward_naive(T* out, const T* inp, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = inp + r * cols;
    double m = -INFINITY, s = 0.0;
    for (int64_t j = 0; j < cols; ++j)  // max; NaN if any entry is NaN
      m = std::isnan(m) || std::isnan(double(x[j])) ? NAN : std::fmax(m, double(x[j]));
    for (int64_t j = 0; j < cols; ++j) s += std::exp(double(x[j]) - m);
    const double lse = m + std::log(s);
    for (int64_t j = 0; j < cols; ++j)
      out[r * cols + j] = m == -INFINITY ? T(-INFINITY) : static_cast<T>(x[j] - lse);
  }
}

template <typename T>
void log_softmax_backward_naive(T* dinp, const T* dout, const T* out, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* g = dout + r * cols;
    double s = 0.0;
    for (int64_t j = 0; j < cols; ++j) s += g[j];
    for (int64_t j = 0; j < cols; ++j)
      dinp[r * cols + j] = static_cast<T>(g[j] - std::exp(double(out[r * cols + j])) * s);
  }
}

#define FWP_INSTANTIATE(T)                                                             \
  template void softmax_forward<T>(T*, const T*, int64_t, int64_t);                   \
  template void softmax_backward<T>(T*, const T*, const T*, int64_t, int64_t);        \
  template void log_softmax_forward<T>(T*, const T*, int64_t, int64_t);               \
  template void log_softmax_backward<T>(T*, const T*, const T*, int64_t, int64_t);    \
  template void softmax_forward_naive<T>(T*, const T*, int64_t, int64_t);             \
  template void softmax_backward_naive<T>(T*, const T*, const T*, int64_t, int64_t);  \
  template void log_softmax_forward_naive<T>(T*, const T*, int64_t, int64_t);         \
  template void log_softmax_backward_naive<T>(T*, const T*, const T*, int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
