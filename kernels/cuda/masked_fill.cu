// masked_fill on the device (kernels/cuda/masked_fill.h): one thread per element; the mask's
// offset comes from the element's index and the mask strides, held in constant memory (as in
// binary.cu: no struct by value).
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/masked_fill.h"

namespace fwp::kernels {

namespace {

using namespace cuda_launch;

struct MaskLayout {
  int64_t shape[kMaskedFillCudaMaxDims];
  int64_t strides[kMaskedFillCudaMaxDims];
  int ndim;
};

__constant__ MaskLayout c_mask;

template <typename T>
__global__ void masked_fill_kernel(T* out, const T* inp, const T* mask, T value, int64_t n) {
  const MaskLayout& L = c_mask;
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    int64_t rest = i, off = 0;
#pragma unroll
    for (int d = kMaskedFillCudaMaxDims - 1; d >= 0; --d) {
      if (d >= L.ndim) continue;
      off += (rest % L.shape[d]) * L.strides[d];
      rest /= L.shape[d];
    }
    out[i] = mask[off] != T(0) ? value : inp[i];
  }
}

}  // namespace

template <typename T>
void masked_fill_forward_cuda(T* out, const T* inp, const T* mask, T value, const int64_t* shape,
                              const int64_t* mask_strides, int ndim) {
  FWP_CHECK(ndim >= 0 && ndim <= kMaskedFillCudaMaxDims, "masked_fill_forward_cuda: at most ",
            kMaskedFillCudaMaxDims, " dimensions, got ", ndim);
  MaskLayout L{};
  L.ndim = ndim;
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) {
    L.shape[d] = shape[d];
    L.strides[d] = mask_strides[d];
    n *= shape[d];
  }
  if (n <= 0) return;
  FWP_CUDA_CHECK("masked_fill_forward_cuda", cudaMemcpyToSymbol(c_mask, &L, sizeof(MaskLayout)));
  masked_fill_kernel<T><<<blocks_for(n), kThreads>>>(out, inp, mask, value, n);
  FWP_CUDA_CHECK_LAUNCH("masked_fill_forward_cuda");
}

template void masked_fill_forward_cuda<float>(float*, const float*, const float*, float,
                                              const int64_t*, const int64_t*, int);
template void masked_fill_forward_cuda<double>(double*, const double*, const double*, double,
                                               const int64_t*, const int64_t*, int);

}  // namespace fwp::kernels
