// masked_fill: out = mask != 0 ? value : inp, with the mask broadcast over inp (e.g. one causal
// (T, T) mask for all (B, H) slices of attention scores). There is no separate backward kernel:
// the backward is this same fill with value 0 applied to dout (masked entries were constants).
// Broadcasting is expressed by strides, as in binary.h: the mask is read at
// sum_d index_d * mask_strides[d] in out's index space (stride 0 along broadcast dims).
#pragma once
#include <cstdint>

namespace fwp::kernels {

// out, inp are contiguous with shape[0..ndim); out may alias inp. value may be -inf.
template <typename T>
void masked_fill_forward(T* out, const T* inp, const T* mask, T value, const int64_t* shape,
                         const int64_t* mask_strides, int ndim);

// Reference: one index computation per element, no threads.
template <typename T>
void masked_fill_forward_naive(T* out, const T* inp, const T* mask, T value,
                               const int64_t* shape, const int64_t* mask_strides, int ndim);

}  // namespace fwp::kernels
