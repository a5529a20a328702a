// Cross-entropy kernels: OpenMP over rows; the forward reads each row twice (max, sum of exps),
// the backward once (softmax minus one-hot, scaled), all unit-stride.
#include "kernels/cpu/cross_entropy.h"

#include <cmath>
#include <limits>

#include "kernels/cpu/row_reduce.h"

namespace fwp::kernels {

template <typename T>
void cross_entropy_forward(T* losses, T* lse, const T* logits, const int64_t* targets, int64_t N,
                           int64_t V, int64_t ignore_index) {
  const T inf = std::numeric_limits<T>::infinity();
#pragma omp parallel for schedule(static) if (N * V > 32768 && N > 1)
  for (int64_t n = 0; n < N; ++n) {
    const T* x = logits + n * V;
    if (targets[n] == ignore_index) {
      losses[n] = T(0);
      lse[n] = T(0);
      continue;
    }
    // pass 1: max
    const T m = row_max(x, V);
    if (m == -inf) {  // no distribution: infinitely surprised, and nothing to learn from
      losses[n] = inf;
      lse[n] = -inf;
      continue;
    }
    // pass 2: logsumexp
    lse[n] = m + std::log(row_sum_exp(x, m, V));
    losses[n] = lse[n] - x[targets[n]];
  }
}

template <typename T>
void cross_entropy_backward(T* dlogits, const T* dlosses, const T* logits, const T* lse,
                            const int64_t* targets, int64_t N, int64_t V, int64_t ignore_index) {
  const T inf = std::numeric_limits<T>::infinity();
#pragma omp parallel for schedule(static) if (N * V > 32768 && N > 1)
  for (int64_t n = 0; n < N; ++n) {
    const T* x = logits + n * V;
    T* dx = dlogits + n * V;
    if (targets[n] == ignore_index || lse[n] == -inf) {
      for (int64_t v = 0; v < V; ++v) dx[v] = T(0);
      continue;
    }
    // one pass: dx = dloss * softmax(x), then the one-hot term at the target
    const T g = dlosses[n], l = lse[n];
#pragma omp simd
    for (int64_t v = 0; v < V; ++v) dx[v] = g * fast_exp(x[v] - l);
    dx[targets[n]] -= g;
  }
}

template <typename T>
void cross_entropy_forward_naive(T* losses, T* lse, const T* logits, const int64_t* targets,
                                 int64_t N, int64_t V, int64_t ignore_index) {
  for (int64_t n = 0; n < N; ++n) {
    const T* x = logits + n * V;
    losses[n] = T(0);
    lse[n] = T(0);
    if (targets[n] == ignore_index) continue;
    double m = -INFINITY, s = 0.0;
    for (int64_t v = 0; v < V; ++v)  // max; NaN if any entry is NaN
      m = std::isnan(m) || std::isnan(double(x[v])) ? NAN : std::fmax(m, double(x[v]));
    for (int64_t v = 0; v < V; ++v) s += std::exp(double(x[v]) - m);
    const double l = m == -INFINITY ? -INFINITY : m + std::log(s);
    lse[n] = static_cast<T>(l);
    losses[n] = m == -INFINITY ? T(INFINITY) : static_cast<T>(l - double(x[targets[n]]));
  }
}

template <typename T>
void cross_entropy_backward_naive(T* dlogits, const T* dlosses, const T* logits, const T* lse,
                                  const int64_t* targets, int64_t N, int64_t V,
                                  int64_t ignore_index) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t v = 0; v < V; ++v) {
      const bool skip = targets[n] == ignore_index || lse[n] == -INFINITY;
      const double p = std::exp(double(logits[n * V + v]) - double(lse[n]));
      const double onehot = v == targets[n] ? 1.0 : 0.0;
      dlogits[n * V + v] = skip ? T(0) : static_cast<T>(double(dlosses[n]) * (p - onehot));
    }
}

#define FWP_INSTANTIATE(T)                                                                      \
  template void cross_entropy_forward<T>(T*, T*, const T*, const int64_t*, int64_t, int64_t,   \
                                         int64_t);                                             \
  template void cross_entropy_backward<T>(T*, const T*, const T*, const T*, const int64_t*,    \
                                          int64_t, int64_t, int64_t);                          \
  template void cross_entropy_forward_naive<T>(T*, T*, const T*, const int64_t*, int64_t,      \
                                               int64_t, int64_t);                              \
  template void cross_entropy_backward_naive<T>(T*, const T*, const T*, const T*,              \
                                                const int64_t*, int64_t, int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
