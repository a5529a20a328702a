// Embedding kernels. The backward's scatter-add is made race-free by ownership, not atomics:
// thread t of nt adds only the rows whose id satisfies id % nt == t (every thread reads all ids,
// which are few next to the D-wide rows). Each dweight row is therefore summed by one thread in
// the order n = 0, 1, ..., so the result is bit-identical for any number of threads.
#include "kernels/cpu/embedding.h"

#include <omp.h>

#include <cstring>

namespace fwp::kernels {

template <typename T>
void embedding_forward(T* out, const T* weight, const int64_t* ids, int64_t N, int64_t D) {
#pragma omp parallel for schedule(static) if (N * D > 65536 && N > 1)
  for (int64_t n = 0; n < N; ++n) std::memcpy(out + n * D, weight + ids[n] * D, D * sizeof(T));
}

template <typename T>
void embedding_backward(T* dweight, const T* dout, const int64_t* ids, int64_t N, int64_t V,
                        int64_t D) {
#pragma omp parallel if (V * D + N * D > 65536)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    // pass 1: zero the rows this thread owns
    for (int64_t v = t; v < V; v += nt) std::memset(dweight + v * D, 0, D * sizeof(T));
    // pass 2: add every dout row whose id this thread owns
    for (int64_t n = 0; n < N; ++n) {
      if (ids[n] % nt != t) continue;
      T* dst = dweight + ids[n] * D;
      const T* src = dout + n * D;
#pragma omp simd
      for (int64_t i = 0; i < D; ++i) dst[i] += src[i];
    }
  }
}

template <typename T>
void embedding_forward_naive(T* out, const T* weight, const int64_t* ids, int64_t N, int64_t D) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < D; ++i) out[n * D + i] = weight[ids[n] * D + i];
}

template <typename T>
void embedding_backward_naive(T* dweight, const T* dout, const int64_t* ids, int64_t N, int64_t V,
                              int64_t D) {
  for (int64_t e = 0; e < V * D; ++e) dweight[e] = T(0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < D; ++i) dweight[ids[n] * D + i] += dout[n * D + i];
}

#define FWP_INSTANTIATE(T)                                                                   \
  template void embedding_forward<T>(T*, const T*, const int64_t*, int64_t, int64_t);       \
  template void embedding_backward<T>(T*, const T*, const int64_t*, int64_t, int64_t,       \
                                      int64_t);                                             \
  template void embedding_forward_naive<T>(T*, const T*, const int64_t*, int64_t, int64_t); \
  template void embedding_backward_naive<T>(T*, const T*, const int64_t*, int64_t, int64_t, \
                                            int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
