// FAVOR+ on the device (kernels/cuda/favor.h): one warp per row, the passes of
// kernels/cpu/favor.cpp. Forward: c = |x|^2 / 2 + log(2m) / 2 (|x|^2 summed in double, as the CPU
// does), then phi = [exp(u - c), exp(-u - c)] + eps. Backward: du = g+ e+ - g- e- and
// s = sum(g+ e+ + g- e-), then dx = -s x.
#include <cmath>

#include "kernels/cuda/check.h"
#include "kernels/cuda/favor.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/warp_rows.h"

namespace fwp::kernels {

namespace {

using namespace cuda_launch;
using cuda_rows::warp_sum;

template <typename T>
__global__ void forward_kernel(T* phi, const T* u, const T* x, T eps, int64_t N, int64_t Dk,
                               int64_t m, double half_log_2m) {
  const int lane = threadIdx.x % 32;
  for (int64_t r = first_row(); r < N; r += row_stride()) {
    const T* xr = x + r * Dk;
    double sq = 0.0;
    for (int64_t i = lane; i < Dk; i += 32) sq += double(xr[i]) * double(xr[i]);
    const T c = static_cast<T>(0.5 * warp_sum(sq) + half_log_2m);
    const T* ur = u + r * m;
    T* pos = phi + r * 2 * m;
    for (int64_t j = lane; j < m; j += 32) {
      pos[j] = exp(ur[j] - c) + eps;
      pos[m + j] = exp(-ur[j] - c) + eps;
    }
  }
}

template <typename T>
__global__ void backward_kernel(T* du, T* dx, const T* dphi, const T* phi, const T* x, T eps,
                                int64_t N, int64_t Dk, int64_t m) {
  const int lane = threadIdx.x % 32;
  for (int64_t r = first_row(); r < N; r += row_stride()) {
    const T* g = dphi + r * 2 * m;
    const T* p = phi + r * 2 * m;
    T s = 0;
    for (int64_t j = lane; j < m; j += 32) {
      const T gp = g[j] * (p[j] - eps), gn = g[m + j] * (p[m + j] - eps);
      du[r * m + j] = gp - gn;
      s += gp + gn;
    }
    s = warp_sum(s);
    for (int64_t i = lane; i < Dk; i += 32) dx[r * Dk + i] = -s * x[r * Dk + i];
  }
}

}  // namespace

template <typename T>
void favor_forward_cuda(T* phi, const T* u, const T* x, T eps, int64_t N, int64_t Dk, int64_t m) {
  if (N <= 0 || m <= 0) return;
  forward_kernel<T><<<row_blocks_for(N), 32 * kRowWarps>>>(phi, u, x, eps, N, Dk, m,
                                                           0.5 * std::log(2.0 * double(m)));
  FWP_CUDA_CHECK_LAUNCH("favor_forward_cuda");
}

template <typename T>
void favor_backward_cuda(T* du, T* dx, const T* dphi, const T* phi, const T* x, T eps, int64_t N,
                         int64_t Dk, int64_t m) {
  if (N <= 0) return;
  backward_kernel<T><<<row_blocks_for(N), 32 * kRowWarps>>>(du, dx, dphi, phi, x, eps, N, Dk, m);
  FWP_CUDA_CHECK_LAUNCH("favor_backward_cuda");
}

#define FWP_INSTANTIATE(T)                                                                   \
  template void favor_forward_cuda<T>(T*, const T*, const T*, T, int64_t, int64_t, int64_t); \
  template void favor_backward_cuda<T>(T*, T*, const T*, const T*, const T*, T, int64_t,     \
                                       int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
