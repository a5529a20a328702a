// permute walks the output in order (unit-stride writes) and gathers from the input; when the
// last dimension is kept in place, whole rows are copied at once.
#include "kernels/cpu/layout.h"

#include <cstring>
#include <vector>

namespace fwp::kernels {

template <typename T>
void permute(T* out, const T* in, const int64_t* in_shape, const int64_t* perm, int ndim) {
  if (ndim == 0) {
    out[0] = in[0];
    return;
  }
  std::vector<int64_t> in_strides(ndim, 1), out_shape(ndim), src_stride(ndim);
  for (int i = ndim - 2; i >= 0; --i) in_strides[i] = in_strides[i + 1] * in_shape[i + 1];
  for (int i = 0; i < ndim; ++i) {
    out_shape[i] = in_shape[perm[i]];
    src_stride[i] = in_strides[perm[i]];  // step in `in` per step of output dim i
  }
  const int64_t inner = out_shape[ndim - 1], step = src_stride[ndim - 1];
  int64_t rows = 1;
  for (int i = 0; i < ndim - 1; ++i) rows *= out_shape[i];
#pragma omp parallel for schedule(static) if (rows * inner > 32768 && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t src = 0, rem = r;
    for (int i = ndim - 2; i >= 0; --i) {
      src += (rem % out_shape[i]) * src_stride[i];
      rem /= out_shape[i];
    }
    T* dst = out + r * inner;
    if (step == 1) {
      std::memcpy(dst, in + src, inner * sizeof(T));
    } else {
      for (int64_t j = 0; j < inner; ++j) dst[j] = in[src + j * step];
    }
  }
}

template <typename T>
void permute_naive(T* out, const T* in, const int64_t* in_shape, const int64_t* perm, int ndim) {
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= in_shape[i];
  std::vector<int64_t> idx(ndim);
  for (int64_t e = 0; e < n; ++e) {  // e: flat index into `in`
    int64_t rem = e;
    for (int i = ndim - 1; i >= 0; --i) {
      idx[i] = rem % in_shape[i];
      rem /= in_shape[i];
    }
    int64_t o = 0;
    for (int k = 0; k < ndim; ++k) o = o * in_shape[perm[k]] + idx[perm[k]];
    out[o] = in[e];
  }
}

template <typename T>
void copy_rows(T* out, int64_t out_stride, const T* in, int64_t in_stride, int64_t rows,
               int64_t row_len) {
#pragma omp parallel for schedule(static) if (rows * row_len > 65536 && rows > 1)
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(out + r * out_stride, in + r * in_stride, row_len * sizeof(T));
}

template <typename T>
void add_rows(T* out, int64_t out_stride, const T* in, int64_t in_stride, int64_t rows,
              int64_t row_len) {
#pragma omp parallel for schedule(static) if (rows * row_len > 65536 && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    T* o = out + r * out_stride;
    const T* x = in + r * in_stride;
#pragma omp simd
    for (int64_t c = 0; c < row_len; ++c) o[c] += x[c];
  }
}

#define FWP_INSTANTIATE(T)                                                                   \
  template void permute<T>(T*, const T*, const int64_t*, const int64_t*, int);             \
  template void permute_naive<T>(T*, const T*, const int64_t*, const int64_t*, int);       \
  template void copy_rows<T>(T*, int64_t, const T*, int64_t, int64_t, int64_t);            \
  template void add_rows<T>(T*, int64_t, const T*, int64_t, int64_t, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
