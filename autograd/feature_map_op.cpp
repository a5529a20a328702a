// Fused feature-map and scatter ops (their composed twins: layers/feature_maps.cpp and the
// one-hot matmul they replace).
#include "autograd/functions.h"
#include "core/functional.h"

namespace fwp {

namespace {

// y = dpfp(x):  dx = dpfp_backward(g, x)   (each product r[a] r[b] differentiated by its factors,
// then through relu([x, -x]); see kernels/cpu/dpfp.h)
struct DpfpOp : Op {
  Tensor x;
  int64_t nu = 1;
  const char* name() const override { return "dpfp"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {dpfp_backward(g[0], x, nu)};
  }
};

// phi = favor_plus(x; omega, eps) = [exp(u - c), exp(-u - c)] + eps,  u = x omega,
// c = |x|^2/2 + log(2m)/2. With e = phi - eps and g = dL/dphi split into its two halves:
//   du = g+ e+ - g- e-      dc = -sum(g+ e+ + g- e-)      dx = du omega^T + x dc
// One op rather than an autograd matmul feeding a pointwise op: the tape would keep u alive
// until the backward as that matmul's output (N m floats: 39 MB at N = 19200, m = 512); here
// u is a temporary of the forward. The projection is BLAS either way.
struct FavorPlusOp : Op {
  Tensor x, omega, phi;  // x and phi as (N, Dk) and (N, 2m)
  Shape x_shape;         // the caller's (..., Dk)
  double eps = 0.0;
  const char* name() const override { return "favor_plus"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    const Tensor grad_phi = g[0].reshape({x.size(0), 2 * omega.size(1)});
    return {favor_features_backward(grad_phi, phi, x, omega, eps).reshape(x_shape)};
  }
};

// out[b, index[b, t]] += src[b, t]:  dsrc[b, t] = g[b, index[b, t]]
// Both directions are the embedding kernels with ids offset by b * n: the scatter is an
// embedding backward into a (B n, 1) table, the gather an embedding lookup from it.
struct ScatterAddOp : Op {
  Indices flat_ids;  // b * n + index[b, t], shape (B L)
  Shape src_shape;
  const char* name() const override { return "scatter_add"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {embedding(g[0].reshape({-1, 1}), flat_ids).reshape(src_shape)};
  }
};

}  // namespace

Variable dpfp(const Variable& x, int64_t nu) {
  auto op = std::make_shared<DpfpOp>();
  Tensor y = dpfp(x.value(), nu);
  op->x = x.value();
  op->nu = nu;
  return record(op, {x}, y);
}

Variable favor_plus(const Variable& x, const Tensor& omega, double eps) {
  FWP_CHECK(x.defined() && omega.defined(), "favor_plus: x and omega must be defined");
  FWP_CHECK_SHAPE(x.dim() >= 1 && omega.dim() == 2 && omega.size(0) == x.size(-1) &&
                      omega.size(1) >= 1,
                  "favor_plus: omega must be (Dk, m) with Dk = x.size(-1) and m >= 1, got x=",
                  x.shape(), " and omega=", omega.shape());
  check_same_type("favor_plus", "x", x.value(), "omega", omega);
  const int64_t Dk = omega.size(0), m = omega.size(1), N = x.numel() / Dk;
  Tensor x2 = x.value().reshape({N, Dk});
  Tensor u = matmul(x2, omega);  // (N, m), BLAS
  Tensor phi = favor_features(u, x2, eps);
  auto op = std::make_shared<FavorPlusOp>();
  if (any_requires_grad({x})) {
    op->x = x2;
    op->omega = omega;
    op->phi = phi;
  }
  op->eps = eps;
  op->x_shape = x.shape();
  Shape out_shape = x.shape();
  out_shape.back() = 2 * m;
  return record(op, {x}, phi.reshape(out_shape));
}

Variable scatter_add(const Variable& src, const Indices& index, int64_t n) {
  FWP_CHECK_SHAPE(src.dim() == 2 && index.shape == src.shape(), "scatter_add: src must be (B, L) "
                  "and index the same shape, got src=", src.shape(), " index=", index.shape);
  const int64_t B = src.size(0), L = src.size(1);
  auto op = std::make_shared<ScatterAddOp>();
  std::vector<int64_t> flat(B * L);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < L; ++t) {
      const int64_t id = index.values[b * L + t];
      FWP_CHECK(id >= 0 && id < n, "scatter_add: index ", id, " is out of range [0, ", n, ")");
      flat[b * L + t] = b * n + id;
    }
  op->flat_ids = Indices({B * L}, flat);
  op->src_shape = src.shape();
  Tensor out = embedding_backward(src.value().reshape({B * L, 1}), op->flat_ids, B * n);
  return record(op, {src}, out.reshape({B, n}));
}

}  // namespace fwp
