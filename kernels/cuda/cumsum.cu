// Cumulative sums on the device (kernels/cuda/cumsum.h): one thread per column (o, i) scans its
// n values in order (backwards for the backward), in T, exactly as the CPU kernel adds them.
// Reading inp[j] before writing out[j] keeps an aliased out/inp pair correct.
#include "kernels/cuda/check.h"
#include "kernels/cuda/cumsum.h"
#include "kernels/cuda/launch.h"

namespace fwp::kernels {

namespace {

using namespace cuda_launch;

template <typename T>
__global__ void scan_kernel(T* out, const T* inp, int64_t outer, int64_t n, int64_t inner,
                            bool reverse) {
  for (int64_t idx = first_index(); idx < outer * inner; idx += grid_stride()) {
    const int64_t o = idx / inner, i = idx % inner;
    const T* x = inp + o * n * inner + i;
    T* y = out + o * n * inner + i;
    T acc = 0;
    for (int64_t s = 0; s < n; ++s) {
      const int64_t j = reverse ? n - 1 - s : s;
      acc = s == 0 ? x[j * inner] : acc + x[j * inner];
      y[j * inner] = acc;
    }
  }
}

template <typename T>
void scan(const char* op, T* out, const T* inp, int64_t outer, int64_t n, int64_t inner,
          bool reverse) {
  if (outer * inner <= 0 || n <= 0) return;
  scan_kernel<T><<<blocks_for(outer * inner), kThreads>>>(out, inp, outer, n, inner, reverse);
  FWP_CUDA_CHECK_LAUNCH(op);
}

}  // namespace

template <typename T>
void cumsum_forward_cuda(T* out, const T* inp, int64_t outer, int64_t n, int64_t inner) {
  scan("cumsum_forward_cuda", out, inp, outer, n, inner, false);
}

template <typename T>
void cumsum_backward_cuda(T* dinp, const T* dout, int64_t outer, int64_t n, int64_t inner) {
  scan("cumsum_backward_cuda", dinp, dout, outer, n, inner, true);
}

#define FWP_INSTANTIATE(T)                                                                   \
  template void cumsum_forward_cuda<T>(T*, const T*, int64_t, int64_t, int64_t);            \
  template void cumsum_backward_cuda<T>(T*, const T*, int64_t, int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
