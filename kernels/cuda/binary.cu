// Elementwise binary ops on the device (kernels/cuda/binary.h): grid-stride loops; the
// broadcasting one turns each flat output index into a, b offsets through the strides, which it
// reads from constant memory (copied there before each launch, in stream order; a struct passed
// by value is read through register-indexed parameter loads, which an emulator got wrong).
// Calls from several host threads at once would race on that constant block.
#include "kernels/cuda/binary.h"
#include "kernels/cuda/check.h"

namespace fwp::kernels {

namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 4096 ? (b < 1 ? 1 : b) : 4096);
}

struct Layout {
  int64_t shape[kBinaryCudaMaxDims];
  int64_t sa[kBinaryCudaMaxDims];
  int64_t sb[kBinaryCudaMaxDims];
  int ndim;
};

template <typename T>
__device__ __forceinline__ T apply(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::add: return x + y;
    case BinaryOp::sub: return x - y;
    case BinaryOp::mul: return x * y;
    default: return x / y;
  }
}

__constant__ Layout c_layout;

template <typename T>
__global__ void binary_kernel(T* out, const T* a, const T* b, BinaryOp op, int64_t n) {
  const Layout& L = c_layout;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rest = i, oa = 0, ob = 0;
#pragma unroll
    for (int d = kBinaryCudaMaxDims - 1; d >= 0; --d) {
      if (d >= L.ndim) continue;
      const int64_t idx = rest % L.shape[d];
      rest /= L.shape[d];
      oa += idx * L.sa[d];
      ob += idx * L.sb[d];
    }
    out[i] = apply(op, a[oa], b[ob]);
  }
}

template <typename T>
__global__ void scalar_kernel(T* out, const T* a, T s, BinaryOp op, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = apply(op, a[i], s);
}

template <typename T>
__global__ void axpy_kernel(T* out, const T* x, T alpha, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] += alpha * x[i];
}

}  // namespace

template <typename T>
void binary_forward_cuda(T* out, const T* a, const T* b, BinaryOp op, const int64_t* shape,
                         const int64_t* a_strides, const int64_t* b_strides, int ndim) {
  FWP_CHECK(ndim >= 0 && ndim <= kBinaryCudaMaxDims, "binary_forward_cuda: at most ",
            kBinaryCudaMaxDims, " dimensions, got ", ndim);
  Layout L{};
  L.ndim = ndim;
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) {
    L.shape[d] = shape[d];
    L.sa[d] = a_strides[d];
    L.sb[d] = b_strides[d];
    n *= shape[d];
  }
  if (n <= 0) return;
  FWP_CUDA_CHECK("binary_forward_cuda", cudaMemcpyToSymbol(c_layout, &L, sizeof(Layout)));
  binary_kernel<T><<<blocks_for(n), kThreads>>>(out, a, b, op, n);
  FWP_CUDA_CHECK_LAUNCH("binary_forward_cuda");
}

template <typename T>
void binary_scalar_cuda(T* out, const T* a, T s, BinaryOp op, int64_t n) {
  if (n <= 0) return;
  scalar_kernel<T><<<blocks_for(n), kThreads>>>(out, a, s, op, n);
  FWP_CUDA_CHECK_LAUNCH("binary_scalar_cuda");
}

template <typename T>
void axpy_cuda(T* out, const T* x, T alpha, int64_t n) {
  if (n <= 0) return;
  axpy_kernel<T><<<blocks_for(n), kThreads>>>(out, x, alpha, n);
  FWP_CUDA_CHECK_LAUNCH("axpy_cuda");
}

#define FWP_INSTANTIATE(T)                                                                    \
  template void binary_forward_cuda<T>(T*, const T*, const T*, BinaryOp, const int64_t*,     \
                                       const int64_t*, const int64_t*, int);                 \
  template void binary_scalar_cuda<T>(T*, const T*, T, BinaryOp, int64_t);                   \
  template void axpy_cuda<T>(T*, const T*, T, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
