// Layer-norm kernels. The per-row work (forward, dinp) runs OpenMP over rows; dweight and dbias
// are sums over rows, so they run OpenMP over blocks of columns instead: each thread owns its
// columns, nothing is shared, nothing is allocated, and the result does not depend on threads.
#include "kernels/cpu/layernorm.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/row_reduce.h"

namespace fwp::kernels {

template <typename T>
void layernorm_forward(T* out, T* mean, T* rstd, const T* inp, const T* weight, const T* bias,
                       int64_t N, int64_t D, T eps) {
#pragma omp parallel for schedule(static) if (N * D > 32768 && N > 1)
  for (int64_t n = 0; n < N; ++n) {
    const T* x = inp + n * D;
    T* y = out + n * D;
    // pass 1: mean
    const T m = row_sum(x, D) / T(D);
    // pass 2: variance around the mean (two passes: no cancellation)
    T v = 0;
#pragma omp simd reduction(+ : v)
    for (int64_t i = 0; i < D; ++i) v += (x[i] - m) * (x[i] - m);
    const T s = T(1) / std::sqrt(v / T(D) + eps);
    // pass 3: normalise, scale, shift
#pragma omp simd
    for (int64_t i = 0; i < D; ++i) {
      const T xhat = (x[i] - m) * s;
      y[i] = xhat * (weight ? weight[i] : T(1)) + (bias ? bias[i] : T(0));
    }
    mean[n] = m;
    rstd[n] = s;
  }
}

template <typename T>
void layernorm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp,
                        const T* weight, const T* mean, const T* rstd, int64_t N, int64_t D) {
  if (dinp) {
#pragma omp parallel for schedule(static) if (N * D > 32768 && N > 1)
    for (int64_t n = 0; n < N; ++n) {
      const T* g = dout + n * D;
      const T* x = inp + n * D;
      T* dx = dinp + n * D;
      const T m = mean[n], s = rstd[n];
      // pass 1: the two row means of the formula, mean(dxhat) and mean(dxhat * xhat)
      T sum_d = 0, sum_dx = 0;
#pragma omp simd reduction(+ : sum_d, sum_dx)
      for (int64_t i = 0; i < D; ++i) {
        const T dxhat = g[i] * (weight ? weight[i] : T(1));
        sum_d += dxhat;
        sum_dx += dxhat * (x[i] - m) * s;
      }
      const T mean_d = sum_d / T(D), mean_dx = sum_dx / T(D);
      // pass 2: dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
#pragma omp simd
      for (int64_t i = 0; i < D; ++i) {
        const T dxhat = g[i] * (weight ? weight[i] : T(1));
        dx[i] = s * (dxhat - mean_d - (x[i] - m) * s * mean_dx);
      }
    }
  }
  if (!dweight && !dbias) return;
  // column sums over rows, one block of columns per task
  const int64_t block = 64, nblocks = (D + block - 1) / block;
#pragma omp parallel for schedule(static) if (N * D > 32768 && nblocks > 1)
  for (int64_t b = 0; b < nblocks; ++b) {
    const int64_t i0 = b * block, i1 = std::min(D, i0 + block);
    for (int64_t i = i0; i < i1; ++i) {
      if (dweight) dweight[i] = T(0);
      if (dbias) dbias[i] = T(0);
    }
    for (int64_t n = 0; n < N; ++n) {
      const T* g = dout + n * D;
      const T* x = inp + n * D;
      const T m = mean[n], s = rstd[n];
      if (dweight) {
#pragma omp simd
        for (int64_t i = i0; i < i1; ++i) dweight[i] += g[i] * (x[i] - m) * s;
      }
      if (dbias) {
#pragma omp simd
        for (int64_t i = i0; i < i1; ++i) dbias[i] += g[i];
      }
    }
  }
}

template <typename T>
void layernorm_forward_naive(T* out, T* mean, T* rstd, const T* inp, const T* weight,
                             const T* bias, int64_t N, int64_t D, T eps) {
  for (int64_t n = 0; n < N; ++n) {
    const T* x = inp + n * D;
    double m = 0.0, v = 0.0;
    for (int64_t i = 0; i < D; ++i) m += x[i];
    m /= double(D);
    for (int64_t i = 0; i < D; ++i) v += (x[i] - m) * (x[i] - m);
    const double s = 1.0 / std::sqrt(v / double(D) + double(eps));
    for (int64_t i = 0; i < D; ++i) {
      double y = (x[i] - m) * s;
      if (weight) y *= weight[i];
      if (bias) y += bias[i];
      out[n * D + i] = static_cast<T>(y);
    }
    mean[n] = static_cast<T>(m);
    rstd[n] = static_cast<T>(s);
  }
}

template <typename T>
void layernorm_backward_naive(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp,
                              const T* weight, const T* mean, const T* rstd, int64_t N, int64_t D) {
  for (int64_t i = 0; i < D; ++i) {
    if (dweight) dweight[i] = T(0);
    if (dbias) dbias[i] = T(0);
  }
  for (int64_t n = 0; n < N; ++n) {
    const T* g = dout + n * D;
    const T* x = inp + n * D;
    double sum_d = 0.0, sum_dx = 0.0;
    for (int64_t i = 0; i < D; ++i) {
      const double xhat = (x[i] - double(mean[n])) * rstd[n];
      const double dxhat = double(g[i]) * (weight ? weight[i] : 1.0);
      sum_d += dxhat;
      sum_dx += dxhat * xhat;
      if (dweight) dweight[i] += static_cast<T>(g[i] * xhat);
      if (dbias) dbias[i] += g[i];
    }
    if (!dinp) continue;
    for (int64_t i = 0; i < D; ++i) {
      const double xhat = (x[i] - double(mean[n])) * rstd[n];
      const double dxhat = double(g[i]) * (weight ? weight[i] : 1.0);
      dinp[n * D + i] = static_cast<T>(rstd[n] * (dxhat - sum_d / D - xhat * sum_dx / D));
    }
  }
}

#define FWP_INSTANTIATE(T)                                                                     \
  template void layernorm_forward<T>(T*, T*, T*, const T*, const T*, const T*, int64_t,       \
                                     int64_t, T);                                             \
  template void layernorm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,     \
                                      const T*, int64_t, int64_t);                            \
  template void layernorm_forward_naive<T>(T*, T*, T*, const T*, const T*, const T*, int64_t, \
                                           int64_t, T);                                       \
  template void layernorm_backward_naive<T>(T*, T*, T*, const T*, const T*, const T*,         \
                                            const T*, const T*, int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
