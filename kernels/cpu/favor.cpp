// FAVOR+ feature kernels (math in kernels/cpu/favor.h): rows in parallel, one flat SIMD loop per
// row over the m projections, each producing its + and - feature.
#include "kernels/cpu/favor.h"

#include <cmath>

#include "kernels/cpu/fast_exp.h"

namespace fwp::kernels {

namespace {
// c = |x|^2 / 2 + log(2m) / 2 for one row of x.
template <typename T>
T row_offset(const T* x, int64_t Dk, int64_t m) {
  double sq = 0.0;
  for (int64_t i = 0; i < Dk; ++i) sq += double(x[i]) * double(x[i]);
  return static_cast<T>(0.5 * sq + 0.5 * std::log(2.0 * double(m)));
}
}  // namespace

template <typename T>
void favor_forward(T* phi, const T* u, const T* x, T eps, int64_t N, int64_t Dk, int64_t m) {
#pragma omp parallel for schedule(static) if (N * m > 16384)
  for (int64_t r = 0; r < N; ++r) {
    const T c = row_offset(x + r * Dk, Dk, m);
    const T* ur = u + r * m;
    T* pos = phi + r * 2 * m;
    T* neg = pos + m;
#pragma omp simd
    for (int64_t j = 0; j < m; ++j) {
      pos[j] = fast_exp(ur[j] - c) + eps;
      neg[j] = fast_exp(-ur[j] - c) + eps;
    }
  }
}

template <typename T>
void favor_backward(T* du, T* dx, const T* dphi, const T* phi, const T* x, T eps, int64_t N,
                    int64_t Dk, int64_t m) {
#pragma omp parallel for schedule(static) if (N * m > 16384)
  for (int64_t r = 0; r < N; ++r) {
    const T* g = dphi + r * 2 * m;
    const T* p = phi + r * 2 * m;
    T* dur = du + r * m;
    T s = 0;  // sum(g+ e+ + g- e-) = -dc
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < m; ++j) {
      const T gp = g[j] * (p[j] - eps), gn = g[m + j] * (p[m + j] - eps);
      dur[j] = gp - gn;
      s += gp + gn;
    }
    for (int64_t i = 0; i < Dk; ++i) dx[r * Dk + i] = -s * x[r * Dk + i];
  }
}

template <typename T>
void favor_forward_naive(T* phi, const T* u, const T* x, T eps, int64_t N, int64_t Dk, int64_t m) {
  for (int64_t r = 0; r < N; ++r) {
    const T c = row_offset(x + r * Dk, Dk, m);
    for (int64_t j = 0; j < m; ++j) {
      phi[r * 2 * m + j] = std::exp(u[r * m + j] - c) + eps;
      phi[r * 2 * m + m + j] = std::exp(-u[r * m + j] - c) + eps;
    }
  }
}

template <typename T>
void favor_backward_naive(T* du, T* dx, const T* dphi, const T* phi, const T* x, T eps, int64_t N,
                          int64_t Dk, int64_t m) {
  for (int64_t r = 0; r < N; ++r) {
    double dc = 0.0;
    for (int64_t j = 0; j < 2 * m; ++j)
      dc -= double(dphi[r * 2 * m + j]) * (phi[r * 2 * m + j] - eps);
    for (int64_t j = 0; j < m; ++j)
      du[r * m + j] = dphi[r * 2 * m + j] * (phi[r * 2 * m + j] - eps) -
                      dphi[r * 2 * m + m + j] * (phi[r * 2 * m + m + j] - eps);
    for (int64_t i = 0; i < Dk; ++i) dx[r * Dk + i] = static_cast<T>(dc * x[r * Dk + i]);
  }
}

#define FWP_INSTANTIATE(T)                                                                    \
  template void favor_forward<T>(T*, const T*, const T*, T, int64_t, int64_t, int64_t);      \
  template void favor_backward<T>(T*, T*, const T*, const T*, const T*, T, int64_t, int64_t, \
                                  int64_t);                                                  \
  template void favor_forward_naive<T>(T*, const T*, const T*, T, int64_t, int64_t, int64_t); \
  template void favor_backward_naive<T>(T*, T*, const T*, const T*, const T*, T, int64_t,     \
                                        int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
