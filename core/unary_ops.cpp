// Pointwise nonlinearities at the tensor level: validate, allocate, call kernels::unary_forward
// or kernels::unary_backward (which holds the formulas), on the device the tensors live on
// (core/device_dispatch.h).
#include "core/device_dispatch.h"
#include "core/functional.h"
#include "kernels/cpu/unary.h"
#ifdef FWP_WITH_CUDA
#include "kernels/cuda/unary.h"
#endif

namespace fwp {

namespace {

using kernels::UnaryOp;

Tensor unary(const char* name, UnaryOp op, const Tensor& a, double alpha = 0.0) {
  check_defined(name, "a", a);
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(a.device(), unary_forward, T)(out.data<T>(), a.data<T>(), op,
                                             static_cast<T>(alpha), a.numel());
  });
  return out;
}

void check_like(const char* op, const Tensor& grad_out, const char* arg, const Tensor& t) {
  check_same_type(op, "grad_out", grad_out, arg, t);
  FWP_CHECK_SHAPE(t.shape() == grad_out.shape(), op, ": ", arg, "=", t.shape(),
                  " must have the shape of grad_out=", grad_out.shape());
}

// x and/or y may be undefined when the formula does not read them.
Tensor unary_grad(const char* name, UnaryOp op, const Tensor& grad_out, const Tensor& x,
                  const Tensor& y, double alpha = 0.0) {
  check_defined(name, "grad_out", grad_out);
  if (x.defined()) check_like(name, grad_out, "x", x);  // same dtype and device
  if (y.defined()) check_like(name, grad_out, "y", y);
  Tensor out = Tensor::empty(grad_out.shape(), grad_out.dtype(), grad_out.device());
  dispatch_dtype(grad_out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.defined() ? x.data<T>() : nullptr;
    const T* py = y.defined() ? y.data<T>() : nullptr;
    FWP_KERNEL(grad_out.device(), unary_backward, T)(out.data<T>(), grad_out.data<T>(), px, py,
                                                     op, static_cast<T>(alpha), grad_out.numel());
  });
  return out;
}

}  // namespace

Tensor exp(const Tensor& a) { return unary("exp", UnaryOp::exp, a); }
Tensor log(const Tensor& a) { return unary("log", UnaryOp::log, a); }
Tensor sqrt(const Tensor& a) { return unary("sqrt", UnaryOp::sqrt, a); }
Tensor tanh(const Tensor& a) { return unary("tanh", UnaryOp::tanh, a); }
Tensor sigmoid(const Tensor& a) { return unary("sigmoid", UnaryOp::sigmoid, a); }
Tensor relu(const Tensor& a) { return unary("relu", UnaryOp::relu, a); }
Tensor elu(const Tensor& a, double alpha) { return unary("elu", UnaryOp::elu, a, alpha); }
Tensor square(const Tensor& a) { return unary("square", UnaryOp::square, a); }

Tensor exp_backward(const Tensor& g, const Tensor& y) {
  check_defined("exp_backward", "y", y);
  return unary_grad("exp_backward", UnaryOp::exp, g, Tensor(), y);
}
Tensor log_backward(const Tensor& g, const Tensor& x) {
  check_defined("log_backward", "x", x);
  return unary_grad("log_backward", UnaryOp::log, g, x, Tensor());
}
Tensor sqrt_backward(const Tensor& g, const Tensor& y) {
  check_defined("sqrt_backward", "y", y);
  return unary_grad("sqrt_backward", UnaryOp::sqrt, g, Tensor(), y);
}
Tensor tanh_backward(const Tensor& g, const Tensor& y) {
  check_defined("tanh_backward", "y", y);
  return unary_grad("tanh_backward", UnaryOp::tanh, g, Tensor(), y);
}
Tensor sigmoid_backward(const Tensor& g, const Tensor& y) {
  check_defined("sigmoid_backward", "y", y);
  return unary_grad("sigmoid_backward", UnaryOp::sigmoid, g, Tensor(), y);
}
Tensor relu_backward(const Tensor& g, const Tensor& x) {
  check_defined("relu_backward", "x", x);
  return unary_grad("relu_backward", UnaryOp::relu, g, x, Tensor());
}
Tensor elu_backward(const Tensor& g, const Tensor& x, const Tensor& y, double alpha) {
  check_defined("elu_backward", "x", x);
  check_defined("elu_backward", "y", y);
  return unary_grad("elu_backward", UnaryOp::elu, g, x, y, alpha);
}
Tensor square_backward(const Tensor& g, const Tensor& x) {
  check_defined("square_backward", "x", x);
  return unary_grad("square_backward", UnaryOp::square, g, x, Tensor());
}

}  // namespace fwp
