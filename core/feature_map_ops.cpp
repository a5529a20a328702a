// Tensor-level DPFP and FAVOR+: validation, then the fused kernels of kernels/cpu/dpfp.h and
// kernels/cpu/favor.h (or their CUDA twins, by the arguments' device).
#include "core/device_dispatch.h"
#include "core/functional.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/dpfp.h"
#include "kernels/cpu/favor.h"
#ifdef FWP_WITH_CUDA
#include "kernels/cuda/blas.h"
#include "kernels/cuda/dpfp.h"
#include "kernels/cuda/favor.h"
#endif

namespace fwp {

namespace {
void check_dpfp(const char* op, const Tensor& x, int64_t nu) {
  check_defined(op, "x", x);
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
  Tensor phi = Tensor::empty(out_shape, x.dtype(), x.device());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(x.device(), dpfp_forward, T)(phi.data<T>(), x.data<T>(), N, Dk, nu);
  });
  return phi;
}

Tensor dpfp_backward(const Tensor& grad_out, const Tensor& x, int64_t nu) {
  check_dpfp("dpfp_backward", x, nu);
  check_same_type("dpfp_backward", "grad_out", grad_out, "x", x);
  const int64_t Dk = x.size(-1), N = x.numel() / Dk;
  FWP_CHECK_SHAPE(grad_out.numel() == N * 2 * Dk * nu, "dpfp_backward: grad_out=", grad_out.shape(),
                  " does not match x=", x.shape(), " with nu=", nu);
  Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(x.device(), dpfp_backward, T)(dx.data<T>(), grad_out.data<T>(), x.data<T>(), N, Dk,
                                             nu);
  });
  return dx;
}

namespace {
void check_favor(const char* op, const Tensor& x, const Tensor& other, const char* other_name,
                 int64_t cols) {
  check_same_type(op, "x", x, other_name, other);
  FWP_CHECK_SHAPE(x.dim() == 2 && other.dim() == 2 && other.size(0) == x.size(0) &&
                      other.size(1) == cols,
                  op, ": x must be (N, Dk) and ", other_name, " (N, ", cols, "), got x=",
                  x.shape(), " and ", other_name, "=", other.shape());
}
}  // namespace

Tensor favor_features(const Tensor& u, const Tensor& x, double eps) {
  check_defined("favor_features", "u", u);
  const int64_t N = x.size(0), Dk = x.size(1), m = u.size(-1);
  check_favor("favor_features", x, u, "u", m);
  Tensor phi = Tensor::empty({N, 2 * m}, x.dtype(), x.device());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(x.device(), favor_forward, T)(phi.data<T>(), u.data<T>(), x.data<T>(),
                                             static_cast<T>(eps), N, Dk, m);
  });
  return phi;
}

Tensor favor_features_backward(const Tensor& grad_phi, const Tensor& phi, const Tensor& x,
                               const Tensor& omega, double eps) {
  const char* op = "favor_features_backward";
  check_defined(op, "omega", omega);
  const int64_t N = x.size(0), Dk = x.size(1), m = omega.size(-1);
  check_favor(op, x, phi, "phi", 2 * m);
  check_favor(op, x, grad_phi, "grad_phi", 2 * m);
  check_same_type(op, "x", x, "omega", omega);
  FWP_CHECK_SHAPE(omega.shape() == Shape({Dk, m}), op, ": omega must be (Dk, m) = (", Dk, ", ", m,
                  "), got ", omega.shape());
  const Device dev = x.device();
  Tensor du = Tensor::empty({N, m}, x.dtype(), dev), dx = Tensor::empty({N, Dk}, x.dtype(), dev);
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(dev, favor_backward, T)(du.data<T>(), dx.data<T>(), grad_phi.data<T>(),
                                       phi.data<T>(), x.data<T>(), static_cast<T>(eps), N, Dk, m);
    // dx += du omega^T  (omega is (Dk, m) row-major)
    FWP_KERNEL(dev, gemm, T)(false, true, N, Dk, m, T(1), du.data<T>(), m, omega.data<T>(), m,
                             T(1), dx.data<T>(), Dk);
  });
  return dx;
}

}  // namespace fwp
