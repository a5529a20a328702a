// masked_fill kernels. Dims are first merged where the mask is laid out contiguously across
// them (or broadcast across both), so a causal mask over (B, H, T, T) becomes (B*H, T*T) with the
// mask re-read per outer row; then OpenMP over rows, each a unit-stride select.
#include "kernels/cpu/masked_fill.h"

#include <vector>

namespace fwp::kernels {

template <typename T>
void masked_fill_forward(T* out, const T* inp, const T* mask, T value, const int64_t* shape,
                         const int64_t* mask_strides, int ndim) {
  // pass 1: drop size-1 dims; merge dim d into the previous one when the mask is contiguous
  // across them (its stride there equals its stride here times this dim's size; 0 == 0 * size)
  std::vector<int64_t> sh, st;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] == 1) continue;
    if (!sh.empty() && st.back() == mask_strides[d] * shape[d]) {
      sh.back() *= shape[d];
      st.back() = mask_strides[d];
    } else {
      sh.push_back(shape[d]);
      st.push_back(mask_strides[d]);
    }
  }
  if (sh.empty()) {  // a single element
    sh = {1};
    st = {0};
  }
  // pass 2: rows of the last merged dim; the mask's offset per row from the other dims
  const int nd = static_cast<int>(sh.size());
  const int64_t inner = sh[nd - 1], ms = st[nd - 1];
  int64_t rows = 1;
  for (int d = 0; d < nd - 1; ++d) rows *= sh[d];
#pragma omp parallel for schedule(static) if (rows * inner > 32768 && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t off = 0, rem = r;
    for (int d = nd - 2; d >= 0; --d) {
      off += (rem % sh[d]) * st[d];
      rem /= sh[d];
    }
    const T* m = mask + off;
    const T* x = inp + r * inner;
    T* y = out + r * inner;
    if (ms == 0) {  // one mask value for the whole row
      const bool fill = m[0] != T(0);
      for (int64_t i = 0; i < inner; ++i) y[i] = fill ? value : x[i];
    } else {
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) y[i] = m[i] != T(0) ? value : x[i];
    }
  }
}

template <typename T>
void masked_fill_forward_naive(T* out, const T* inp, const T* mask, T value,
                               const int64_t* shape, const int64_t* mask_strides, int ndim) {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= shape[d];
  for (int64_t e = 0; e < n; ++e) {
    int64_t off = 0, rem = e;
    for (int d = ndim - 1; d >= 0; --d) {
      off += (rem % shape[d]) * mask_strides[d];
      rem /= shape[d];
    }
    out[e] = mask[off] != T(0) ? value : inp[e];
  }
}

#define FWP_INSTANTIATE(T)                                                                   \
  template void masked_fill_forward<T>(T*, const T*, const T*, T, const int64_t*,           \
                                       const int64_t*, int);                                \
  template void masked_fill_forward_naive<T>(T*, const T*, const T*, T, const int64_t*,     \
                                             const int64_t*, int);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
