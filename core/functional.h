// Tensor-level math without autograd: what the autograd ops call in forward AND backward.
// Every function validates its arguments (throwing ShapeError with the op name and shapes),
// allocates its result and calls a kernel from kernels/. Results are new tensors unless the
// name ends in '_' (in-place).
//
// Broadcasting (add/sub/mul/div): numpy rules, shapes aligned from the right, a size-1 (or
// missing) dimension stretches to the other operand's size. sum_to() undoes it for gradients.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace fwp {

// ---- elementwise binary, broadcasting (core/binary_ops.cpp)
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);
Tensor neg(const Tensor& a);
void add_(Tensor& out, const Tensor& x, double alpha = 1.0);  // out += alpha * x, same shape

// ---- matrix products through BLAS (core/matmul.cpp)
// op(a) @ op(b), op = transpose of the last two dims when the flag is set.
// a is (..., M, K), b is (..., K, N) with the same leading dims, or b is 2-D (K, N) and shared,
// or a is 2-D and shared. Result (..., M, N).
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// ---- shape and layout (core/shape_ops.cpp)
Tensor permute(const Tensor& a, const std::vector<int64_t>& perm);
Tensor transpose(const Tensor& a, int64_t dim0, int64_t dim1);
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
Tensor slice(const Tensor& a, int64_t dim, int64_t start, int64_t end);  // [start, end)
std::vector<Tensor> split(const Tensor& a, const std::vector<int64_t>& sizes, int64_t dim);
// Adds x into the [start, start + x.size(dim)) slab of `out` along dim (backward of slice).
void slice_add_(Tensor& out, const Tensor& x, int64_t dim, int64_t start);

// ---- reductions (core/reduce_ops.cpp)
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor sum(const Tensor& a);  // all elements, shape ()
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim = false);
// Sums a broadcast result back to `shape` (the gradient rule of broadcasting).
Tensor sum_to(const Tensor& a, const Shape& shape);
// Repeats a to `shape` by broadcasting (the gradient rule of sum).
Tensor expand(const Tensor& a, const Shape& shape);

// ---- checks shared by the ops
// Throws ShapeError unless a and b have the same dtype and device.
void check_same_type(const char* op, const char* name_a, const Tensor& a, const char* name_b,
                     const Tensor& b);
void check_defined(const char* op, const char* name, const Tensor& a);

}  // namespace fwp
