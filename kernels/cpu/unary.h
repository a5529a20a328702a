// Pointwise nonlinearities and their derivatives, elementwise over n contiguous values.
//   forward:  out  = f(inp)
//   backward: dinp = dout * f'(inp), with f' written through whichever of inp and out = f(inp)
//             is cheaper (exp' = out, tanh' = 1 - out^2, relu' = [inp > 0], ...).
// The float path of exp and sigmoid uses the vectorisable fast_exp (fast_exp.h); the naive twins
// call std:: functions element by element.
#pragma once
#include <cstdint>

namespace fwp::kernels {

enum class UnaryOp { exp, log, sqrt, tanh, sigmoid, relu, elu, square };

// out, inp are (n). alpha is elu's alpha (ignored by the other ops). out may alias inp.
template <typename T>
void unary_forward(T* out, const T* inp, UnaryOp op, T alpha, int64_t n);

// dinp, dout, inp, out are (n); out = f(inp) as computed by unary_forward. Only the arrays the
// formula reads must be valid: inp for log, relu, square; out for exp, sqrt, tanh, sigmoid;
// both for elu. dinp may alias dout.
template <typename T>
void unary_backward(T* dinp, const T* dout, const T* inp, const T* out, UnaryOp op, T alpha,
                    int64_t n);

template <typename T>
void unary_forward_naive(T* out, const T* inp, UnaryOp op, T alpha, int64_t n);

template <typename T>
void unary_backward_naive(T* dinp, const T* dout, const T* inp, const T* out, UnaryOp op, T alpha,
                          int64_t n);

}  // namespace fwp::kernels
