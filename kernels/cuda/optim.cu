// Optimizer updates on the device (kernels/cuda/optim.h): one thread per element for the
// updates, with the scalars of kernels/cpu/optim.cpp computed on the host and passed one by one
// (no struct by value). The sum of squares is one block: each thread sums a strided share in
// double, the block combines the shares in shared memory (a tree, barriers outside any branch),
// and thread 0 adds the block's sum to the running total. One block per tensor keeps the
// total's additions in launch order, with no atomics.
#include <cmath>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/optim.h"

namespace fwp::kernels {

namespace {

using namespace cuda_launch;

template <typename T>
__global__ void adam_kernel(T* param, T* m, T* v, const T* grad, int64_t n, T b1, T b2,
                            T one_minus_b1, T one_minus_b2, T l2, T keep, T step_size,
                            T sqrt_bc2, T eps) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    const T p = param[i] * keep;
    const T g = grad[i] + l2 * p;
    const T mi = b1 * m[i] + one_minus_b1 * g;
    const T vi = b2 * v[i] + one_minus_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = p - step_size * mi / (sqrt(vi) / sqrt_bc2 + eps);
  }
}

template <typename T>
__global__ void sgd_kernel(T* param, T* buf, const T* grad, int64_t n, T lr, T mu, T wd) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    if (buf == nullptr) {
      param[i] -= lr * (grad[i] + wd * param[i]);
    } else {
      const T b = mu * buf[i] + (grad[i] + wd * param[i]);
      buf[i] = b;
      param[i] -= lr * b;
    }
  }
}

template <typename T>
__global__ void sum_squares_kernel(double* total, const T* x, int64_t n) {
  __shared__ double share[kThreads];
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) acc += static_cast<double>(x[i]) * x[i];
  share[threadIdx.x] = acc;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {  // every thread reaches every barrier
    if (threadIdx.x < half) share[threadIdx.x] += share[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) *total += share[0];
}

template <typename T>
__global__ void scale_kernel(T* x, int64_t n, const double* total, double max_norm) {
  const double coef = max_norm / (sqrt(*total) + 1e-6);
  if (coef >= 1.0) return;
  const T c = static_cast<T>(coef);
  for (int64_t i = first_index(); i < n; i += grid_stride()) x[i] *= c;
}

}  // namespace

template <typename T>
void adam_update_cuda(T* param, T* m, T* v, const T* grad, int64_t n, const AdamStepParams& s) {
  if (n <= 0) return;
  adam_kernel<T><<<blocks_for(n), kThreads>>>(
      param, m, v, grad, n, static_cast<T>(s.beta1), static_cast<T>(s.beta2),
      static_cast<T>(1.0 - s.beta1), static_cast<T>(1.0 - s.beta2),
      static_cast<T>(s.decoupled ? 0.0 : s.weight_decay),
      static_cast<T>(s.decoupled ? 1.0 - s.lr * s.weight_decay : 1.0),
      static_cast<T>(s.lr / s.bias_correction1), static_cast<T>(std::sqrt(s.bias_correction2)),
      static_cast<T>(s.eps));
  FWP_CUDA_CHECK_LAUNCH("adam_update_cuda");
}

template <typename T>
void sgd_update_cuda(T* param, T* buf, const T* grad, int64_t n, double lr, double momentum,
                     double weight_decay) {
  if (n <= 0) return;
  sgd_kernel<T><<<blocks_for(n), kThreads>>>(param, momentum == 0.0 ? nullptr : buf, grad, n,
                                             static_cast<T>(lr), static_cast<T>(momentum),
                                             static_cast<T>(weight_decay));
  FWP_CUDA_CHECK_LAUNCH("sgd_update_cuda");
}

template <typename T>
void sum_squares_cuda(double* total, const T* x, int64_t n) {
  if (n <= 0) return;
  sum_squares_kernel<T><<<1, kThreads>>>(total, x, n);
  FWP_CUDA_CHECK_LAUNCH("sum_squares_cuda");
}

template <typename T>
void scale_by_norm_cuda(T* x, int64_t n, const double* total, double max_norm) {
  if (n <= 0) return;
  scale_kernel<T><<<blocks_for(n), kThreads>>>(x, n, total, max_norm);
  FWP_CUDA_CHECK_LAUNCH("scale_by_norm_cuda");
}

#define FWP_INSTANTIATE(T)                                                                   \
  template void adam_update_cuda<T>(T*, T*, T*, const T*, int64_t, const AdamStepParams&);  \
  template void sgd_update_cuda<T>(T*, T*, const T*, int64_t, double, double, double);      \
  template void sum_squares_cuda<T>(double*, const T*, int64_t);                            \
  template void scale_by_norm_cuda<T>(T*, int64_t, const double*, double);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
