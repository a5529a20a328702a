// Data movement on the device (kernels/cuda/layout.h): one thread per output element.
// permute turns the output's flat index into the input's offset through per-dim strides held in
// constant memory (as binary.cu does, and for the same reason: no struct by value).
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/layout.h"

namespace fwp::kernels {

namespace {

using namespace cuda_launch;

struct PermuteLayout {
  int64_t out_shape[kLayoutCudaMaxDims];
  int64_t src_stride[kLayoutCudaMaxDims];  // step in `in` per step of output dim d
  int ndim;
};

__constant__ PermuteLayout c_permute;

template <typename T>
__global__ void permute_kernel(T* out, const T* in, int64_t n) {
  const PermuteLayout& L = c_permute;
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    int64_t rest = i, src = 0;
#pragma unroll
    for (int d = kLayoutCudaMaxDims - 1; d >= 0; --d) {
      if (d >= L.ndim) continue;
      src += (rest % L.out_shape[d]) * L.src_stride[d];
      rest /= L.out_shape[d];
    }
    out[i] = in[src];
  }
}

template <typename T, bool Add>
__global__ void rows_kernel(T* out, int64_t out_stride, const T* in, int64_t in_stride,
                            int64_t rows, int64_t row_len) {
  for (int64_t i = first_index(); i < rows * row_len; i += grid_stride()) {
    const int64_t r = i / row_len, c = i % row_len;
    if (Add)
      out[r * out_stride + c] += in[r * in_stride + c];
    else
      out[r * out_stride + c] = in[r * in_stride + c];
  }
}

}  // namespace

template <typename T>
void permute_cuda(T* out, const T* in, const int64_t* in_shape, const int64_t* perm, int ndim) {
  FWP_CHECK(ndim >= 0 && ndim <= kLayoutCudaMaxDims, "permute_cuda: at most ",
            kLayoutCudaMaxDims, " dimensions, got ", ndim);
  PermuteLayout L{};
  L.ndim = ndim;
  int64_t in_strides[kLayoutCudaMaxDims], n = 1, stride = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    in_strides[d] = stride;
    stride *= in_shape[d];
  }
  for (int d = 0; d < ndim; ++d) {
    L.out_shape[d] = in_shape[perm[d]];
    L.src_stride[d] = in_strides[perm[d]];
    n *= L.out_shape[d];
  }
  if (n <= 0) return;
  FWP_CUDA_CHECK("permute_cuda", cudaMemcpyToSymbol(c_permute, &L, sizeof(PermuteLayout)));
  permute_kernel<T><<<blocks_for(n), kThreads>>>(out, in, n);
  FWP_CUDA_CHECK_LAUNCH("permute_cuda");
}

template <typename T>
void copy_rows_cuda(T* out, int64_t out_stride, const T* in, int64_t in_stride, int64_t rows,
                    int64_t row_len) {
  if (rows * row_len <= 0) return;
  rows_kernel<T, false><<<blocks_for(rows * row_len), kThreads>>>(out, out_stride, in, in_stride,
                                                                   rows, row_len);
  FWP_CUDA_CHECK_LAUNCH("copy_rows_cuda");
}

template <typename T>
void add_rows_cuda(T* out, int64_t out_stride, const T* in, int64_t in_stride, int64_t rows,
                   int64_t row_len) {
  if (rows * row_len <= 0) return;
  rows_kernel<T, true><<<blocks_for(rows * row_len), kThreads>>>(out, out_stride, in, in_stride,
                                                                  rows, row_len);
  FWP_CUDA_CHECK_LAUNCH("add_rows_cuda");
}

#define FWP_INSTANTIATE(T)                                                                    \
  template void permute_cuda<T>(T*, const T*, const int64_t*, const int64_t*, int);          \
  template void copy_rows_cuda<T>(T*, int64_t, const T*, int64_t, int64_t, int64_t);         \
  template void add_rows_cuda<T>(T*, int64_t, const T*, int64_t, int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
