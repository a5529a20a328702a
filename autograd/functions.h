// The differentiable functions: each records one Op on the tape (see tape.h) and returns a
// Variable. Names and semantics follow PyTorch where the concept exists. Each function checks
// its arguments and throws ShapeError naming itself, the argument and the shapes.
// Where the forward/backward live: the file named in each section header.
#pragma once
#include <vector>

#include "autograd/tape.h"
#include "autograd/variable.h"
#include "core/indices.h"

namespace fwp {

// ---- arithmetic with numpy broadcasting (autograd/binary_op.cpp)
Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
Variable add(const Variable& a, double s);
Variable mul(const Variable& a, double s);
Variable neg(const Variable& a);

inline Variable operator+(const Variable& a, const Variable& b) { return add(a, b); }
inline Variable operator-(const Variable& a, const Variable& b) { return sub(a, b); }
inline Variable operator*(const Variable& a, const Variable& b) { return mul(a, b); }
inline Variable operator/(const Variable& a, const Variable& b) { return div(a, b); }
inline Variable operator+(const Variable& a, double s) { return add(a, s); }
inline Variable operator+(double s, const Variable& a) { return add(a, s); }
inline Variable operator-(const Variable& a, double s) { return add(a, -s); }
inline Variable operator-(double s, const Variable& a) { return add(neg(a), s); }
inline Variable operator*(const Variable& a, double s) { return mul(a, s); }
inline Variable operator*(double s, const Variable& a) { return mul(a, s); }
inline Variable operator/(const Variable& a, double s) { return mul(a, 1.0 / s); }
inline Variable operator-(const Variable& a) { return neg(a); }

// ---- matrix products (autograd/matmul_op.cpp); shapes as fwp::matmul in core/functional.h
Variable matmul(const Variable& a, const Variable& b, bool trans_a = false, bool trans_b = false);

// ---- shape and layout (autograd/shape_op.cpp)
Variable reshape(const Variable& a, const Shape& shape);  // a view: no copy
Variable permute(const Variable& a, const std::vector<int64_t>& perm);
Variable transpose(const Variable& a, int64_t dim0, int64_t dim1);
Variable concat(const std::vector<Variable>& xs, int64_t dim);
Variable stack(const std::vector<Variable>& xs, int64_t dim);  // new dim of size xs.size()
Variable slice(const Variable& a, int64_t dim, int64_t start, int64_t end);  // [start, end)
std::vector<Variable> split(const Variable& a, const std::vector<int64_t>& sizes, int64_t dim);

// ---- reductions (autograd/reduce_op.cpp)
Variable sum(const Variable& a, const std::vector<int64_t>& dims, bool keepdim = false);
Variable sum(const Variable& a);  // all elements, shape ()
Variable mean(const Variable& a, const std::vector<int64_t>& dims, bool keepdim = false);
Variable mean(const Variable& a);

// ---- pointwise nonlinearities (autograd/unary_op.cpp)
Variable exp(const Variable& a);
Variable log(const Variable& a);
Variable sqrt(const Variable& a);
Variable tanh(const Variable& a);
Variable sigmoid(const Variable& a);
Variable relu(const Variable& a);
Variable elu(const Variable& a, double alpha = 1.0);
Variable square(const Variable& a);

// ---- softmax family (autograd/softmax_op.cpp), numerically stable (max subtracted)
// -inf entries get probability exactly 0; an all -inf row gives softmax 0, log_softmax -inf, no NaN.
Variable softmax(const Variable& a, int64_t dim = -1);
Variable log_softmax(const Variable& a, int64_t dim = -1);

// ---- losses (autograd/loss_op.cpp)
// Mean over non-ignored rows of -log softmax(logits)[target]; logits (N, V), targets (N)
// (or logits (..., V) with targets (...)). All rows ignored: loss 0. Fused: see kernels/cpu/cross_entropy.h.
Variable cross_entropy(const Variable& logits, const Indices& targets, int64_t ignore_index = -100);
Variable mse_loss(const Variable& a, const Variable& b);  // mean of (a - b)^2

// ---- neural-network building blocks (autograd/nn_op.cpp)
// y = (x - mean) / sqrt(var + eps) * weight + bias over the last dim; weight/bias may be undefined.
Variable layer_norm(const Variable& x, const Variable& weight, const Variable& bias,
                    double eps = 1e-5);
// Inverted dropout: zero with probability p, scale survivors by 1/(1-p); identity if !training.
Variable dropout(const Variable& x, double p, Rng& rng, bool training);
// out[..., :] = weight[ids[...], :]; weight (V, D), result ids.shape + (D). Backward scatter-adds.
Variable embedding(const Variable& weight, const Indices& ids);
Variable cumsum(const Variable& a, int64_t dim);
// out = mask != 0 ? value : a; mask broadcasts to a (e.g. a causal (T, T) mask), value may be -inf.
Variable masked_fill(const Variable& a, const Tensor& mask, double value);

// ---- feature maps and scatters (autograd/feature_map_op.cpp)
// DPFP-nu (docs/THEORY.md section 3.3) fused:
//   r = relu([x, -x]),  y = [r * roll(r, 1), .., r * roll(r, nu)].
// layers/feature_maps.h keeps the composed version as dpfp_reference.
Variable dpfp(const Variable& x, int64_t nu);
// FAVOR+ (docs/THEORY.md section 3.2) fused: u = x omega (BLAS), then in one pass per row
// phi = [exp(u - c), exp(-u - c)] + eps with c = |x|^2/2 + log(2m)/2 (log space: no overflow).
// x (..., Dk), omega (Dk, m), a constant (no gradient) -> (..., 2m). Keeps x and phi for the
// backward, never u. layers/feature_maps.h keeps the composed version as favor_plus_reference.
Variable favor_plus(const Variable& x, const Tensor& omega, double eps = 0.0);
// out[b, index[b, t]] += src[b, t]:  src (B, L), index (B, L) with ids in [0, n) -> out (B, n).
// Summing scores per class without forming a one-hot matrix; the backward is a gather.
Variable scatter_add(const Variable& src, const Indices& index, int64_t n);

}  // namespace fwp
