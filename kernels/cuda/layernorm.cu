// Layer norm on the device (kernels/cuda/layernorm.h). The row passes of
// kernels/cpu/layernorm.cpp run one warp per row (mean, variance around it, normalise; in the
// backward the two row means, then dx). dweight and dbias are column sums over rows: one thread
// per column, adding the rows in order, so no two threads write one element.
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/layernorm.h"
#include "kernels/cuda/warp_rows.h"

namespace fwp::kernels {

namespace {

using namespace cuda_launch;
using cuda_rows::warp_sum;

template <typename T>
__global__ void forward_kernel(T* out, T* mean, T* rstd, const T* inp, const T* weight,
                               const T* bias, int64_t N, int64_t D, T eps) {
  const int lane = threadIdx.x % 32;
  for (int64_t n = first_row(); n < N; n += row_stride()) {
    const T* x = inp + n * D;
    T* y = out + n * D;
    T s1 = 0;
    for (int64_t i = lane; i < D; i += 32) s1 += x[i];
    const T m = warp_sum(s1) / T(D);
    T s2 = 0;  // variance around the mean (two passes: no cancellation)
    for (int64_t i = lane; i < D; i += 32) s2 += (x[i] - m) * (x[i] - m);
    const T s = T(1) / sqrt(warp_sum(s2) / T(D) + eps);
    for (int64_t i = lane; i < D; i += 32)
      y[i] = (x[i] - m) * s * (weight ? weight[i] : T(1)) + (bias ? bias[i] : T(0));
    if (lane == 0) {
      mean[n] = m;
      rstd[n] = s;
    }
  }
}

template <typename T>
__global__ void dx_kernel(T* dinp, const T* dout, const T* inp, const T* weight, const T* mean,
                          const T* rstd, int64_t N, int64_t D) {
  const int lane = threadIdx.x % 32;
  for (int64_t n = first_row(); n < N; n += row_stride()) {
    const T* g = dout + n * D;
    const T* x = inp + n * D;
    T* dx = dinp + n * D;
    const T m = mean[n], s = rstd[n];
    T sum_d = 0, sum_dx = 0;  // the row sums of dxhat and dxhat * xhat
    for (int64_t i = lane; i < D; i += 32) {
      const T dxhat = g[i] * (weight ? weight[i] : T(1));
      sum_d += dxhat;
      sum_dx += dxhat * (x[i] - m) * s;
    }
    const T mean_d = warp_sum(sum_d) / T(D), mean_dx = warp_sum(sum_dx) / T(D);
    for (int64_t i = lane; i < D; i += 32) {
      const T dxhat = g[i] * (weight ? weight[i] : T(1));
      dx[i] = s * (dxhat - mean_d - (x[i] - m) * s * mean_dx);
    }
  }
}

template <typename T>
__global__ void affine_grad_kernel(T* dweight, T* dbias, const T* dout, const T* inp,
                                   const T* mean, const T* rstd, int64_t N, int64_t D) {
  for (int64_t i = first_index(); i < D; i += grid_stride()) {
    T dw = 0, db = 0;
    for (int64_t n = 0; n < N; ++n) {
      const T g = dout[n * D + i];
      dw += g * (inp[n * D + i] - mean[n]) * rstd[n];
      db += g;
    }
    if (dweight) dweight[i] = dw;
    if (dbias) dbias[i] = db;
  }
}

}  // namespace

template <typename T>
void layernorm_forward_cuda(T* out, T* mean, T* rstd, const T* inp, const T* weight,
                            const T* bias, int64_t N, int64_t D, T eps) {
  if (N <= 0 || D <= 0) return;
  forward_kernel<T><<<row_blocks_for(N), 32 * kRowWarps>>>(out, mean, rstd, inp, weight, bias,
                                                           N, D, eps);
  FWP_CUDA_CHECK_LAUNCH("layernorm_forward_cuda");
}

template <typename T>
void layernorm_backward_cuda(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp,
                             const T* weight, const T* mean, const T* rstd, int64_t N, int64_t D) {
  if (D <= 0) return;
  if (dinp && N > 0) {
    dx_kernel<T><<<row_blocks_for(N), 32 * kRowWarps>>>(dinp, dout, inp, weight, mean, rstd, N, D);
    FWP_CUDA_CHECK_LAUNCH("layernorm_backward_cuda (dx)");
  }
  if (dweight || dbias) {
    affine_grad_kernel<T><<<blocks_for(D), kThreads>>>(dweight, dbias, dout, inp, mean, rstd, N, D);
    FWP_CUDA_CHECK_LAUNCH("layernorm_backward_cuda (dweight, dbias)");
  }
}

#define FWP_INSTANTIATE(T)                                                                   \
  template void layernorm_forward_cuda<T>(T*, T*, T*, const T*, const T*, const T*, int64_t, \
                                          int64_t, T);                                      \
  template void layernorm_backward_cuda<T>(T*, T*, T*, const T*, const T*, const T*,        \
                                           const T*, const T*, int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
