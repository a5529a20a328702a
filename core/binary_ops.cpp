// Broadcasting elementwise binary ops: compute the result shape, give each operand strides in
// the result's index space (0 along broadcast dims), run kernels::binary_forward on the
// operands' device (core/device_dispatch.h).
#include <cmath>

#include "core/device_dispatch.h"
#include "core/functional.h"
#include "kernels/cpu/binary.h"
#ifdef FWP_WITH_CUDA
#include "kernels/cuda/binary.h"
#endif

namespace fwp {

void check_defined(const char* op, const char* name, const Tensor& a) {
  FWP_CHECK(a.defined(), op, ": argument '", name, "' is an undefined tensor");
}

void check_same_type(const char* op, const char* name_a, const Tensor& a, const char* name_b,
                     const Tensor& b) {
  check_defined(op, name_a, a);
  check_defined(op, name_b, b);
  FWP_CHECK_SHAPE(a.dtype() == b.dtype(), op, ": dtypes must match, got ", name_a, "=",
                  a.dtype(), " and ", name_b, "=", b.dtype());
  FWP_CHECK(a.device() == b.device(), op, ": devices must match, got ", name_a, "=", a.device(),
            " and ", name_b, "=", b.device());
}

namespace {

// Strides of `s` read in the index space of `out` (right-aligned, 0 where s broadcasts).
std::vector<int64_t> broadcast_strides(const Shape& s, const Shape& out) {
  std::vector<int64_t> own = contiguous_strides(s), st(out.dim(), 0);
  int64_t off = out.dim() - s.dim();
  for (int64_t i = 0; i < s.dim(); ++i) st[off + i] = s[i] == 1 ? 0 : own[i];
  return st;
}

Tensor binary(const char* name, kernels::BinaryOp op, const Tensor& a, const Tensor& b) {
  check_same_type(name, "a", a, "b", b);  // same device too
  Shape out_shape = broadcast_shapes(a.shape(), b.shape(), name);
  std::vector<int64_t> sa = broadcast_strides(a.shape(), out_shape);
  std::vector<int64_t> sb = broadcast_strides(b.shape(), out_shape);
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(a.device(), binary_forward, T)(out.data<T>(), a.data<T>(), b.data<T>(), op,
                                              out_shape.data(), sa.data(), sb.data(),
                                              static_cast<int>(out_shape.dim()));
  });
  return out;
}

Tensor binary_scalar(const char* name, kernels::BinaryOp op, const Tensor& a, double s) {
  check_defined(name, "a", a);
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(a.device(), binary_scalar, T)(out.data<T>(), a.data<T>(), static_cast<T>(s), op,
                                             a.numel());
  });
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary("add", kernels::BinaryOp::add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary("sub", kernels::BinaryOp::sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary("mul", kernels::BinaryOp::mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary("div", kernels::BinaryOp::div, a, b); }

Tensor add(const Tensor& a, double s) { return binary_scalar("add", kernels::BinaryOp::add, a, s); }
Tensor mul(const Tensor& a, double s) { return binary_scalar("mul", kernels::BinaryOp::mul, a, s); }
Tensor neg(const Tensor& a) { return binary_scalar("neg", kernels::BinaryOp::mul, a, -1.0); }

void add_(Tensor& out, const Tensor& x, double alpha) {
  check_same_type("add_", "out", out, "x", x);
  FWP_CHECK_SHAPE(out.shape() == x.shape(), "add_: shapes must match, got out=", out.shape(),
                  " and x=", x.shape());
  dispatch_dtype(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(out.device(), axpy, T)(out.data<T>(), x.data<T>(), static_cast<T>(alpha),
                                      out.numel());
  });
}

}  // namespace fwp
