// DPFP kernels: rows in parallel; r lives in a small per-row buffer (2 Dk values).
#include "kernels/cpu/dpfp.h"

#include <vector>

namespace fwp::kernels {

namespace {
template <typename T>
void relu_pm(T* r, const T* x, int64_t Dk) {  // r = relu([x, -x])
  for (int64_t i = 0; i < Dk; ++i) {
    r[i] = x[i] > T(0) ? x[i] : T(0);
    r[Dk + i] = x[i] < T(0) ? -x[i] : T(0);
  }
}
}  // namespace

template <typename T>
void dpfp_forward(T* phi, const T* x, int64_t N, int64_t Dk, int64_t nu) {
  const int64_t n = 2 * Dk;
#pragma omp parallel
  {
    std::vector<T> r(n);
#pragma omp for schedule(static)
    for (int64_t row = 0; row < N; ++row) {
      relu_pm(r.data(), x + row * Dk, Dk);
      T* out = phi + row * nu * n;
      for (int64_t j = 1; j <= nu; ++j, out += n) {
        // (i - j) mod n: the first j entries wrap around to the end of r
        for (int64_t i = 0; i < j; ++i) out[i] = r[i] * r[n - j + i];
        for (int64_t i = j; i < n; ++i) out[i] = r[i] * r[i - j];
      }
    }
  }
}

template <typename T>
void dpfp_backward(T* dx, const T* dphi, const T* x, int64_t N, int64_t Dk, int64_t nu) {
  const int64_t n = 2 * Dk;
#pragma omp parallel
  {
    std::vector<T> r(n), dr(n);
#pragma omp for schedule(static)
    for (int64_t row = 0; row < N; ++row) {
      relu_pm(r.data(), x + row * Dk, Dk);
      for (int64_t i = 0; i < n; ++i) dr[i] = T(0);
      const T* g = dphi + row * nu * n;
      for (int64_t j = 1; j <= nu; ++j, g += n) {
        // phi_i = r[i] r[b(i)], b(i) = (i - j) mod n: dr[i] += g_i r[b(i)] and dr[b(i)] += g_i r[i],
        // written as four unit-stride loops (no wrap-around index inside a loop: they vectorise)
        for (int64_t i = 0; i < j; ++i) dr[i] += g[i] * r[n - j + i];
        for (int64_t i = j; i < n; ++i) dr[i] += g[i] * r[i - j];
        for (int64_t m = 0; m < n - j; ++m) dr[m] += g[m + j] * r[m + j];  // b = m for i = m + j
        for (int64_t i = 0; i < j; ++i) dr[n - j + i] += g[i] * r[i];
      }
      const T* xr = x + row * Dk;
      T* d = dx + row * Dk;
      for (int64_t i = 0; i < Dk; ++i)
        d[i] = (xr[i] > T(0) ? dr[i] : T(0)) - (xr[i] < T(0) ? dr[Dk + i] : T(0));
    }
  }
}

template void dpfp_forward<float>(float*, const float*, int64_t, int64_t, int64_t);
template void dpfp_forward<double>(double*, const double*, int64_t, int64_t, int64_t);
template void dpfp_backward<float>(float*, const float*, const float*, int64_t, int64_t, int64_t);
template void dpfp_backward<double>(double*, const double*, const double*, int64_t, int64_t, int64_t);

}  // namespace fwp::kernels
