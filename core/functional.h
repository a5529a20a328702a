// Tensor-level math without autograd: what the autograd ops call in forward AND backward.
// Every function validates its arguments (throwing ShapeError with the op name and shapes),
// allocates its result and calls a kernel from kernels/. Results are new tensors unless the
// name ends in '_' (in-place).
//
// Broadcasting (add/sub/mul/div): numpy rules, shapes aligned from the right, a size-1 (or
// missing) dimension stretches to the other operand's size. sum_to() undoes it for gradients.
#pragma once
#include <vector>

#include "core/indices.h"
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

// ---- pointwise nonlinearities (core/unary_ops.cpp)
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor sigmoid(const Tensor& a);
Tensor relu(const Tensor& a);
Tensor elu(const Tensor& a, double alpha = 1.0);  // x > 0 ? x : alpha (e^x - 1)
Tensor square(const Tensor& a);
// Their derivatives: d = grad_out * f'(x), each computed from what its formula needs, the input
// x or the output y = f(x) (all tensors of one shape).
Tensor exp_backward(const Tensor& grad_out, const Tensor& y);
Tensor log_backward(const Tensor& grad_out, const Tensor& x);
Tensor sqrt_backward(const Tensor& grad_out, const Tensor& y);
Tensor tanh_backward(const Tensor& grad_out, const Tensor& y);
Tensor sigmoid_backward(const Tensor& grad_out, const Tensor& y);
Tensor relu_backward(const Tensor& grad_out, const Tensor& x);
Tensor elu_backward(const Tensor& grad_out, const Tensor& x, const Tensor& y, double alpha);
Tensor square_backward(const Tensor& grad_out, const Tensor& x);

// ---- softmax family and cross-entropy (core/softmax_ops.cpp)
// Along `dim` (the last by default; another dim is transposed to the back and back again).
// -inf entries get probability 0; a row that is entirely -inf gives softmax 0 and log_softmax
// -inf (see kernels/cpu/softmax.h) rather than NaN.
Tensor softmax(const Tensor& a, int64_t dim = -1);
Tensor log_softmax(const Tensor& a, int64_t dim = -1);
// dx = y (g - sum(g y)) and dx = g - exp(y) sum(g), y being the forward's output.
Tensor softmax_backward(const Tensor& grad_out, const Tensor& y, int64_t dim = -1);
Tensor log_softmax_backward(const Tensor& grad_out, const Tensor& y, int64_t dim = -1);
// Mean over the rows whose target is not ignore_index of -log softmax(logits)[target].
// logits (..., V); targets shaped like logits without its last dim, values in [0, V) or
// ignore_index. Every row ignored: the loss is 0 (there is nothing to average).
// lse, if given, receives the per-row logsumexp (shaped like targets) that the backward needs.
Tensor cross_entropy(const Tensor& logits, const Indices& targets, int64_t ignore_index = -100,
                     Tensor* lse = nullptr);
// dlogits = grad_out / count * (softmax(logits) - onehot(target)) on counted rows, 0 elsewhere;
// grad_out has one element (the loss's gradient), lse as returned by cross_entropy.
Tensor cross_entropy_backward(const Tensor& grad_out, const Tensor& logits, const Tensor& lse,
                              const Indices& targets, int64_t ignore_index = -100);

// ---- neural-network building blocks (core/nn_ops.cpp)
// Layer norm over the last dim D: x (..., D), weight and bias (D) or undefined.
// mean and rstd, if given, receive the per-row statistics (...) that the backward needs.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5,
                  Tensor* mean = nullptr, Tensor* rstd = nullptr);
struct LayerNormGrads {
  Tensor dx, dweight, dbias;  // undefined where not asked for
};
LayerNormGrads layer_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd, bool need_dx,
                                   bool need_dweight, bool need_dbias);
// Inverted dropout with the counter-based mask of kernels/cpu/dropout.h: x * keep / (1 - p),
// keep drawn from (seed, element index). 0 <= p <= 1. Applying it to the upstream gradient with
// the same p and seed is its backward.
Tensor dropout(const Tensor& x, double p, uint64_t seed);
// out = weight[ids] : weight (V, D), result ids.shape + (D).
Tensor embedding(const Tensor& weight, const Indices& ids);
// dweight (V, D): the rows of grad_out (ids.shape + (D)) scatter-added at their ids.
Tensor embedding_backward(const Tensor& grad_out, const Indices& ids, int64_t V);
// Cumulative sum along dim; the backward is the reverse cumulative sum.
Tensor cumsum(const Tensor& a, int64_t dim);
Tensor cumsum_backward(const Tensor& grad_out, int64_t dim);
// out = mask != 0 ? value : a; mask (any dtype) broadcasts to a's shape; value may be -inf.
// The backward is masked_fill(grad_out, mask, 0).
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value);

// ---- feature maps (core/feature_map_ops.cpp)
// DPFP-nu over the last dim: x (..., Dk) -> (..., 2 Dk nu); see kernels/cpu/dpfp.h.
Tensor dpfp(const Tensor& x, int64_t nu);
Tensor dpfp_backward(const Tensor& grad_out, const Tensor& x, int64_t nu);
// FAVOR+ after its projection u = x omega (kernels/cpu/favor.h): x (N, Dk), u (N, m) -> phi
// (N, 2m). The backward returns dx (N, Dk) = du omega^T + x dc from grad_phi and the forward's phi.
Tensor favor_features(const Tensor& u, const Tensor& x, double eps);
Tensor favor_features_backward(const Tensor& grad_phi, const Tensor& phi, const Tensor& x,
                               const Tensor& omega, double eps);

// ---- checks shared by the ops
// Throws ShapeError unless a and b have the same dtype and device.
void check_same_type(const char* op, const char* name_a, const Tensor& a, const char* name_b,
                     const Tensor& b);
void check_defined(const char* op, const char* name, const Tensor& a);

}  // namespace fwp
