// Tensor-level DPFP: validation, then the fused kernels of kernels/cpu/dpfp.h.
#include "core/functional.h"
#include "kernels/cpu/dpfp.h"

namespace fwp {

namespace {
void check_dpfp(const char* op, const Tensor& x, int64_t nu) {
  check_defined(op, "x", x);
  require_cpu(x, op, "x");
  FWP_CHECK_SHAPE(x.dim() >= 1 && x.size(-1) >= 1, op, ": x needs a last dim, got x=", x.shape());
  FWP_CHECK(nu >= 1 && nu < 2 * x.size(-1), op, ": nu must be in [1, ", 2 * x.size(-1) - 1,
            "] for Dk=", x.size(-1), ", got ", nu);
}
}  // namespace

Tensor dpfp(const Tensor& x, int64_t nu) {
  check_dpfp("dpfp", x, nu);
  const int64_t Dk = x.size(-1), N = x.numel() / Dk;
  Shape out_shape = x.shape();
  out_shape.back() = 2 * Dk * nu;
  Tensor phi = Tensor::empty(out_shape, x.dtype());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::dpfp_forward<T>(phi.data<T>(), x.data<T>(), N, Dk, nu);
  });
  return phi;
}

Tensor dpfp_backward(const Tensor& grad_out, const Tensor& x, int64_t nu) {
  check_dpfp("dpfp_backward", x, nu);
  check_same_type("dpfp_backward", "grad_out", grad_out, "x", x);
  const int64_t Dk = x.size(-1), N = x.numel() / Dk;
  FWP_CHECK_SHAPE(grad_out.numel() == N * 2 * Dk * nu, "dpfp_backward: grad_out=", grad_out.shape(),
                  " does not match x=", x.shape(), " with nu=", nu);
  Tensor dx = Tensor::empty(x.shape(), x.dtype());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::dpfp_backward<T>(dx.data<T>(), grad_out.data<T>(), x.data<T>(), N, Dk, nu);
  });
  return dx;
}

}  // namespace fwp
