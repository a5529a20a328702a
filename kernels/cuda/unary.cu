// Pointwise nonlinearities on the device (kernels/cuda/unary.h): one grid-stride loop per call,
// the formulas of unary_forward_naive / unary_backward_naive (kernels/cpu/unary.cpp).
#include "kernels/cuda/check.h"
#include "kernels/cuda/unary.h"

namespace fwp::kernels {

namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 4096 ? (b < 1 ? 1 : b) : 4096);
}

template <typename T>
__global__ void unary_forward_kernel(T* out, const T* inp, UnaryOp op, T alpha, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const T x = inp[i];
    T y;
    switch (op) {
      case UnaryOp::exp: y = exp(x); break;
      case UnaryOp::log: y = log(x); break;
      case UnaryOp::sqrt: y = sqrt(x); break;
      case UnaryOp::tanh: y = tanh(x); break;
      case UnaryOp::sigmoid: y = T(1) / (T(1) + exp(-x)); break;
      case UnaryOp::relu: y = x > T(0) ? x : T(0); break;
      case UnaryOp::elu: y = x > T(0) ? x : alpha * expm1(x); break;
      default: y = x * x; break;  // square
    }
    out[i] = y;
  }
}

template <typename T>
__global__ void unary_backward_kernel(T* dinp, const T* dout, const T* inp, const T* out,
                                      UnaryOp op, T alpha, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const T g = dout[i];
    T d;
    switch (op) {
      case UnaryOp::exp: d = g * out[i]; break;
      case UnaryOp::log: d = g / inp[i]; break;
      case UnaryOp::sqrt: d = g / (T(2) * out[i]); break;
      case UnaryOp::tanh: d = g * (T(1) - out[i] * out[i]); break;
      case UnaryOp::sigmoid: d = g * out[i] * (T(1) - out[i]); break;
      case UnaryOp::relu: d = inp[i] > T(0) ? g : T(0); break;
      case UnaryOp::elu: d = inp[i] > T(0) ? g : g * alpha * exp(inp[i]); break;
      default: d = T(2) * inp[i] * g; break;  // square
    }
    dinp[i] = d;
  }
}

}  // namespace

template <typename T>
void unary_forward_cuda(T* out, const T* inp, UnaryOp op, T alpha, int64_t n) {
  if (n <= 0) return;
  unary_forward_kernel<T><<<blocks_for(n), kThreads>>>(out, inp, op, alpha, n);
  FWP_CUDA_CHECK_LAUNCH("unary_forward_cuda");
}

template <typename T>
void unary_backward_cuda(T* dinp, const T* dout, const T* inp, const T* out, UnaryOp op, T alpha,
                         int64_t n) {
  if (n <= 0) return;
  unary_backward_kernel<T><<<blocks_for(n), kThreads>>>(dinp, dout, inp, out, op, alpha, n);
  FWP_CUDA_CHECK_LAUNCH("unary_backward_cuda");
}

#define FWP_INSTANTIATE(T)                                                                     \
  template void unary_forward_cuda<T>(T*, const T*, UnaryOp, T, int64_t);                     \
  template void unary_backward_cuda<T>(T*, const T*, const T*, const T*, UnaryOp, T, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
