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
