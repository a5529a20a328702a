// Data movement: permuting dimensions and copying strided blocks of rows
// (the kernels behind transpose, permute, concat, split and slice).
#pragma once
#include <cstdint>

namespace fwp::kernels {

// out[i_0, .., i_{n-1}] = in[j] with in's index j_{perm[k]} = i_k.
// in has shape in_shape; out has shape (in_shape[perm[0]], .., in_shape[perm[n-1]]).
template <typename T>
void permute(T* out, const T* in, const int64_t* in_shape, const int64_t* perm, int ndim);

template <typename T>
void permute_naive(T* out, const T* in, const int64_t* in_shape, const int64_t* perm, int ndim);

// Copies `rows` rows of `row_len` elements: out[r * out_stride + c] = in[r * in_stride + c].
template <typename T>
void copy_rows(T* out, int64_t out_stride, const T* in, int64_t in_stride, int64_t rows,
               int64_t row_len);

// Adds instead of copying: out[r * out_stride + c] += in[r * in_stride + c].
template <typename T>
void add_rows(T* out, int64_t out_stride, const T* in, int64_t in_stride, int64_t rows,
              int64_t row_len);

}  // namespace fwp::kernels
