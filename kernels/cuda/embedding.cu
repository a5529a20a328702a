// Embedding on the device (kernels/cuda/embedding.h). The forward is a gather, one thread per
// output element. The backward is a scatter-add with repeated ids, done without atomics (so its
// sums are deterministic and in the CPU kernel's order): thread (part p, column i) walks all N
// ids in order and adds the rows whose id falls in its part (id % parts == p), the way each CPU
// thread owns the ids equal to its number modulo the thread count. No two threads own one
// element of dweight.
#include "kernels/cuda/check.h"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/launch.h"

namespace fwp::kernels {

namespace {

using namespace cuda_launch;

template <typename T>
__global__ void forward_kernel(T* out, const T* weight, const int64_t* ids, int64_t N, int64_t D) {
  for (int64_t idx = first_index(); idx < N * D; idx += grid_stride())
    out[idx] = weight[ids[idx / D] * D + idx % D];
}

template <typename T>
__global__ void backward_kernel(T* dweight, const T* dout, const int64_t* ids, int64_t N,
                                int64_t V, int64_t D, int64_t parts) {
  for (int64_t idx = first_index(); idx < parts * D; idx += grid_stride()) {
    const int64_t p = idx / D, i = idx % D;
    for (int64_t v = p; v < V; v += parts) dweight[v * D + i] = T(0);
    for (int64_t n = 0; n < N; ++n)
      if (ids[n] % parts == p) dweight[ids[n] * D + i] += dout[n * D + i];
  }
}

}  // namespace

template <typename T>
void embedding_forward_cuda(T* out, const T* weight, const int64_t* ids, int64_t N, int64_t D) {
  if (N * D <= 0) return;
  forward_kernel<T><<<blocks_for(N * D), kThreads>>>(out, weight, ids, N, D);
  FWP_CUDA_CHECK_LAUNCH("embedding_forward_cuda");
}

template <typename T>
void embedding_backward_cuda(T* dweight, const T* dout, const int64_t* ids, int64_t N, int64_t V,
                             int64_t D) {
  if (V * D <= 0) return;
  // Enough (part, column) threads to fill a GPU for the usual widths, never more parts than rows.
  const int64_t parts = V < 256 ? V : 256;
  backward_kernel<T><<<blocks_for(parts * D), kThreads>>>(dweight, dout, ids, N, V, D, parts);
  FWP_CUDA_CHECK_LAUNCH("embedding_backward_cuda");
}

#define FWP_INSTANTIATE(T)                                                                   \
  template void embedding_forward_cuda<T>(T*, const T*, const int64_t*, int64_t, int64_t);  \
  template void embedding_backward_cuda<T>(T*, const T*, const int64_t*, int64_t, int64_t,  \
                                           int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
