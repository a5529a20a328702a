// Shape and layout ops only move numbers around, so each backward moves the gradient back:
// reshape -> reshape back, permute -> inverse permute, concat <-> slice.
#include "autograd/functions.h"
#include "core/functional.h"

namespace fwp {

namespace {

// y = reshape(x):  dx = reshape(g, x.shape)
struct ReshapeOp : Op {
  Shape in_shape;
  const char* name() const override { return "reshape"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {g[0].reshape(in_shape)};
  }
};

// y = permute(x, p):  dx = permute(g, inverse(p)) where inverse(p)[p[i]] = i
struct PermuteOp : Op {
  std::vector<int64_t> inverse;
  const char* name() const override { return "permute"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {permute(g[0], inverse)};
  }
};

// y = concat(x_0, .., x_n; dim):  dx_i = slice of g along dim at x_i's offset
struct ConcatOp : Op {
  std::vector<int64_t> sizes;
  int64_t dim = 0;
  const char* name() const override { return "concat"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>& need) override {
    std::vector<Tensor> dx(sizes.size());
    int64_t start = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (need[i]) dx[i] = slice(g[0], dim, start, start + sizes[i]);
      start += sizes[i];
    }
    return dx;
  }
};

// y = x[.., start:end, ..]:  dx = zeros with g added at [start, end)
struct SliceOp : Op {
  Shape in_shape;
  DType dtype = DType::f32;
  Device device = Device::cpu;
  int64_t dim = 0, start = 0;
  const char* name() const override { return "slice"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    Tensor dx = Tensor::zeros(in_shape, dtype, device);
    slice_add_(dx, g[0], dim, start);
    return {dx};
  }
};

// (y_0, .., y_n) = split(x; sizes, dim):  dx = concat(g_0, .., g_n; dim)   (one op, n outputs)
struct SplitOp : Op {
  int64_t dim = 0;
  const char* name() const override { return "split"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {concat(g, dim)};
  }
};

}  // namespace

Variable reshape(const Variable& a, const Shape& shape) {
  auto op = std::make_shared<ReshapeOp>();
  op->in_shape = a.shape();
  return record(op, {a}, a.value().reshape(shape));
}

Variable permute(const Variable& a, const std::vector<int64_t>& perm) {
  Tensor y = permute(a.value(), perm);  // validates perm
  auto op = std::make_shared<PermuteOp>();
  op->inverse.assign(perm.size(), 0);
  for (size_t i = 0; i < perm.size(); ++i)
    op->inverse[normalize_dim(perm[i], a.dim(), "permute")] = static_cast<int64_t>(i);
  return record(op, {a}, y);
}

Variable transpose(const Variable& a, int64_t dim0, int64_t dim1) {
  std::vector<int64_t> perm(a.dim());
  for (int64_t i = 0; i < a.dim(); ++i) perm[i] = i;
  std::swap(perm[normalize_dim(dim0, a.dim(), "transpose")],
            perm[normalize_dim(dim1, a.dim(), "transpose")]);
  return permute(a, perm);
}

Variable concat(const std::vector<Variable>& xs, int64_t dim) {
  std::vector<Tensor> values;
  for (const Variable& x : xs) values.push_back(x.value());
  Tensor y = concat(values, dim);  // validates
  auto op = std::make_shared<ConcatOp>();
  op->dim = normalize_dim(dim, y.dim(), "concat");
  for (const Variable& x : xs) op->sizes.push_back(x.shape()[op->dim]);
  return record(op, xs, y);
}

Variable stack(const std::vector<Variable>& xs, int64_t dim) {
  FWP_CHECK(!xs.empty(), "stack: needs at least one variable");
  const int64_t d = normalize_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Variable> expanded;
  for (const Variable& x : xs) {
    FWP_CHECK_SHAPE(x.shape() == xs[0].shape(), "stack: all shapes must match, got ",
                    xs[0].shape(), " and ", x.shape());
    Shape s = x.shape();
    s.insert(s.begin() + d, 1);
    expanded.push_back(reshape(x, s));
  }
  return concat(expanded, d);
}

Variable slice(const Variable& a, int64_t dim, int64_t start, int64_t end) {
  Tensor y = slice(a.value(), dim, start, end);  // validates
  auto op = std::make_shared<SliceOp>();
  op->in_shape = a.shape();
  op->dtype = a.dtype();
  op->device = a.value().device();
  op->dim = normalize_dim(dim, a.dim(), "slice");
  op->start = start;
  return record(op, {a}, y);
}

std::vector<Variable> split(const Variable& a, const std::vector<int64_t>& sizes, int64_t dim) {
  std::vector<Tensor> parts = split(a.value(), sizes, dim);  // validates
  auto op = std::make_shared<SplitOp>();
  op->dim = normalize_dim(dim, a.dim(), "split");
  return record(op, {a}, std::move(parts));
}

}  // namespace fwp
