// Cumsum kernels: OpenMP over the outer dim; the scan runs along j, and for inner > 1 each step
// adds a contiguous row of `inner` values to the previous one (a vectorised axpy).
#include "kernels/cpu/cumsum.h"

namespace fwp::kernels {

namespace {

// The shared body: scan along j forwards (step = +1) or backwards (step = -1).
template <typename T>
void scan(T* out, const T* inp, int64_t outer, int64_t n, int64_t inner, bool reverse) {
#pragma omp parallel for schedule(static) if (outer * n * inner > 32768 && outer > 1)
  for (int64_t o = 0; o < outer; ++o) {
    const T* x = inp + o * n * inner;
    T* y = out + o * n * inner;
    for (int64_t s = 0; s < n; ++s) {
      const int64_t j = reverse ? n - 1 - s : s;
      const T* prev = s == 0 ? nullptr : y + (reverse ? j + 1 : j - 1) * inner;
      T* row = y + j * inner;
      const T* add = x + j * inner;
      if (!prev) {
#pragma omp simd
        for (int64_t i = 0; i < inner; ++i) row[i] = add[i];
      } else {
#pragma omp simd
        for (int64_t i = 0; i < inner; ++i) row[i] = prev[i] + add[i];
      }
    }
  }
}

}  // namespace

template <typename T>
void cumsum_forward(T* out, const T* inp, int64_t outer, int64_t n, int64_t inner) {
  scan(out, inp, outer, n, inner, false);
}

template <typename T>
void cumsum_backward(T* dinp, const T* dout, int64_t outer, int64_t n, int64_t inner) {
  scan(dinp, dout, outer, n, inner, true);
}

template <typename T>
void cumsum_forward_naive(T* out, const T* inp, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      T acc = 0;
      for (int64_t j = 0; j < n; ++j) {
        acc += inp[(o * n + j) * inner + i];
        out[(o * n + j) * inner + i] = acc;
      }
    }
}

template <typename T>
void cumsum_backward_naive(T* dinp, const T* dout, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      T acc = 0;
      for (int64_t j = n - 1; j >= 0; --j) {
        acc += dout[(o * n + j) * inner + i];
        dinp[(o * n + j) * inner + i] = acc;
      }
    }
}

#define FWP_INSTANTIATE(T)                                                          \
  template void cumsum_forward<T>(T*, const T*, int64_t, int64_t, int64_t);        \
  template void cumsum_backward<T>(T*, const T*, int64_t, int64_t, int64_t);       \
  template void cumsum_forward_naive<T>(T*, const T*, int64_t, int64_t, int64_t);  \
  template void cumsum_backward_naive<T>(T*, const T*, int64_t, int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
