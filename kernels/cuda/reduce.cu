// Sums along one dimension on the device (kernels/cuda/reduce.h), in the CPU kernel's order:
//   inner == 1 (a row sum): one warp per row, lanes sum strided columns in double, then shuffle;
//   inner > 1: one thread per output (o, i), adding the n rows in order in T, as the CPU does.
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/reduce.h"
#include "kernels/cuda/warp_rows.h"

namespace fwp::kernels {

namespace {

using namespace cuda_launch;

template <typename T>
__global__ void row_sum_kernel(T* out, const T* in, int64_t rows, int64_t n) {
  const int lane = threadIdx.x % 32;
  for (int64_t r = first_row(); r < rows; r += row_stride()) {
    const T* x = in + r * n;
    double acc = 0.0;
    for (int64_t j = lane; j < n; j += 32) acc += x[j];
    acc = cuda_rows::warp_sum(acc);
    if (lane == 0) out[r] = static_cast<T>(acc);
  }
}

template <typename T>
__global__ void column_sum_kernel(T* out, const T* in, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t idx = first_index(); idx < outer * inner; idx += grid_stride()) {
    const int64_t o = idx / inner, i = idx % inner;
    const T* src = in + o * n * inner + i;
    T acc = 0;
    for (int64_t j = 0; j < n; ++j) acc += src[j * inner];
    out[idx] = acc;
  }
}

}  // namespace

template <typename T>
void sum_dim_cuda(T* out, const T* in, int64_t outer, int64_t n, int64_t inner) {
  if (outer * inner <= 0) return;
  if (inner == 1)
    row_sum_kernel<T><<<row_blocks_for(outer), 32 * kRowWarps>>>(out, in, outer, n);
  else
    column_sum_kernel<T><<<blocks_for(outer * inner), kThreads>>>(out, in, outer, n, inner);
  FWP_CUDA_CHECK_LAUNCH("sum_dim_cuda");
}

template void sum_dim_cuda<float>(float*, const float*, int64_t, int64_t, int64_t);
template void sum_dim_cuda<double>(double*, const double*, int64_t, int64_t, int64_t);

}  // namespace fwp::kernels
