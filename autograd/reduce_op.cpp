// Sums and means. Summing copies nothing but collapses dims, so the gradient is the upstream
// gradient repeated (broadcast) over the summed dims: dx = expand(g with kept dims, x.shape).
#include "autograd/functions.h"
#include "core/functional.h"

namespace fwp {

namespace {

// y = sum(x, dims) * scale:  dx = scale * expand(g, x.shape)
struct SumOp : Op {
  Shape in_shape, kept_shape;  // kept_shape: y's shape with the summed dims kept as size 1
  double scale = 1.0;
  const char* name() const override { return "sum"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    Tensor dx = expand(g[0].reshape(kept_shape), in_shape);
    return {scale == 1.0 ? dx : mul(dx, scale)};
  }
};

Variable sum_scaled(const Variable& a, const std::vector<int64_t>& dims, bool keepdim, bool average) {
  Tensor kept = sum(a.value(), dims, true);  // validates dims
  auto op = std::make_shared<SumOp>();
  op->in_shape = a.shape();
  op->kept_shape = kept.shape();
  if (average) op->scale = a.numel() == 0 ? 1.0 : double(kept.numel()) / double(a.numel());
  Tensor y = average ? mul(kept, op->scale) : kept;
  if (!keepdim) {  // drop the summed dims
    std::vector<bool> summed(a.dim(), false);
    for (int64_t d : dims) summed[normalize_dim(d, a.dim(), "sum")] = true;
    Shape s;
    for (int64_t i = 0; i < a.dim(); ++i)
      if (!summed[i]) s.push_back(a.shape()[i]);
    y = y.reshape(s);
  }
  return record(op, {a}, y);
}

}  // namespace

Variable sum(const Variable& a, const std::vector<int64_t>& dims, bool keepdim) {
  return sum_scaled(a, dims, keepdim, false);
}
Variable sum(const Variable& a) { return sum(reshape(a, {a.numel()}), {0}, false); }
Variable mean(const Variable& a, const std::vector<int64_t>& dims, bool keepdim) {
  return sum_scaled(a, dims, keepdim, true);
}
Variable mean(const Variable& a) { return mean(reshape(a, {a.numel()}), {0}, false); }

}  // namespace fwp
