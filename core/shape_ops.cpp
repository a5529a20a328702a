// permute / transpose / concat / slice / split. Data is contiguous, so every one of these
// copies; concat, slice and split see a tensor as (outer, size along dim, inner) and move
// blocks of rows with kernels::copy_rows.
#include <numeric>

#include "core/device_dispatch.h"
#include "core/functional.h"
#include "kernels/cpu/layout.h"
#ifdef FWP_WITH_CUDA
#include "kernels/cuda/layout.h"
#endif

namespace fwp {

namespace {
// Sizes before and after `dim`: a tensor is (outer, shape[dim], inner).
void outer_inner(const Shape& s, int64_t dim, int64_t& outer, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int64_t i = 0; i < dim; ++i) outer *= s[i];
  for (int64_t i = dim + 1; i < s.dim(); ++i) inner *= s[i];
}
}  // namespace

Tensor permute(const Tensor& a, const std::vector<int64_t>& perm) {
  check_defined("permute", "a", a);
  const int64_t n = a.dim();
  FWP_CHECK_SHAPE(static_cast<int64_t>(perm.size()) == n, "permute: got ", perm.size(),
                  " dims in perm for a tensor of shape ", a.shape());
  std::vector<int64_t> p(n);
  std::vector<bool> seen(n, false);
  Shape out_shape(n);
  for (int64_t i = 0; i < n; ++i) {
    p[i] = normalize_dim(perm[i], n, "permute");
    FWP_CHECK_SHAPE(!seen[p[i]], "permute: dim ", p[i], " appears twice in perm");
    seen[p[i]] = true;
    out_shape[i] = a.shape()[p[i]];
  }
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(a.device(), permute, T)(out.data<T>(), a.data<T>(), a.shape().data(), p.data(),
                                       static_cast<int>(n));
  });
  return out;
}

Tensor transpose(const Tensor& a, int64_t dim0, int64_t dim1) {
  check_defined("transpose", "a", a);
  std::vector<int64_t> perm(a.dim());
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[normalize_dim(dim0, a.dim(), "transpose")],
            perm[normalize_dim(dim1, a.dim(), "transpose")]);
  return permute(a, perm);
}

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  FWP_CHECK(!xs.empty(), "concat: needs at least one tensor");
  const Tensor& x0 = xs[0];
  check_defined("concat", "xs[0]", x0);
  dim = normalize_dim(dim, x0.dim(), "concat");
  Shape out_shape = x0.shape();
  out_shape[dim] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    check_same_type("concat", "xs[0]", x0, "xs[i]", xs[i]);
    bool ok = xs[i].dim() == x0.dim();
    for (int64_t d = 0; ok && d < x0.dim(); ++d) ok = d == dim || xs[i].shape()[d] == x0.shape()[d];
    FWP_CHECK_SHAPE(ok, "concat: shapes must match except along dim ", dim, ", got xs[0]=",
                    x0.shape(), " and xs[", i, "]=", xs[i].shape());
    out_shape[dim] += xs[i].shape()[dim];
  }
  Tensor out = Tensor::empty(out_shape, x0.dtype(), x0.device());
  int64_t outer, inner;
  outer_inner(out_shape, dim, outer, inner);
  const int64_t out_row = out_shape[dim] * inner;
  dispatch_dtype(x0.dtype(), [&](auto tag) {
    using T = decltype(tag);
    int64_t offset = 0;
    for (const Tensor& x : xs) {
      const int64_t row = x.shape()[dim] * inner;
      FWP_KERNEL(x0.device(), copy_rows, T)(out.data<T>() + offset, out_row, x.data<T>(), row,
                                            outer, row);
      offset += row;
    }
  });
  return out;
}

Tensor slice(const Tensor& a, int64_t dim, int64_t start, int64_t end) {
  check_defined("slice", "a", a);
  dim = normalize_dim(dim, a.dim(), "slice");
  FWP_CHECK_SHAPE(0 <= start && start <= end && end <= a.shape()[dim], "slice: range [", start,
                  ", ", end, ") is out of bounds for dim ", dim, " of shape ", a.shape());
  Shape out_shape = a.shape();
  out_shape[dim] = end - start;
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  int64_t outer, inner;
  outer_inner(a.shape(), dim, outer, inner);
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(a.device(), copy_rows, T)(out.data<T>(), (end - start) * inner,
                                         a.data<T>() + start * inner, a.shape()[dim] * inner,
                                         outer, (end - start) * inner);
  });
  return out;
}

std::vector<Tensor> split(const Tensor& a, const std::vector<int64_t>& sizes, int64_t dim) {
  check_defined("split", "a", a);
  dim = normalize_dim(dim, a.dim(), "split");
  int64_t total = std::accumulate(sizes.begin(), sizes.end(), int64_t{0});
  FWP_CHECK_SHAPE(total == a.shape()[dim], "split: sizes add up to ", total, " but dim ", dim,
                  " of shape ", a.shape(), " has size ", a.shape()[dim]);
  std::vector<Tensor> parts;
  int64_t start = 0;
  for (int64_t s : sizes) {
    parts.push_back(slice(a, dim, start, start + s));
    start += s;
  }
  return parts;
}

void slice_add_(Tensor& out, const Tensor& x, int64_t dim, int64_t start) {
  check_same_type("slice_add_", "out", out, "x", x);
  dim = normalize_dim(dim, out.dim(), "slice_add_");
  bool ok = x.dim() == out.dim() && start >= 0 && start + x.shape()[dim] <= out.shape()[dim];
  for (int64_t d = 0; ok && d < out.dim(); ++d) ok = d == dim || x.shape()[d] == out.shape()[d];
  FWP_CHECK_SHAPE(ok, "slice_add_: x=", x.shape(), " does not fit into out=", out.shape(),
                  " at offset ", start, " of dim ", dim);
  int64_t outer, inner;
  outer_inner(out.shape(), dim, outer, inner);
  dispatch_dtype(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(out.device(), add_rows, T)(out.data<T>() + start * inner,
                                          out.shape()[dim] * inner, x.data<T>(),
                                          x.shape()[dim] * inner, outer, x.shape()[dim] * inner);
  });
}

}  // namespace fwp
