// Reductions: sum over any set of dims (one kernels::sum_dim pass per dim, the last dim first),
// mean, and the two broadcasting helpers sum_to (reduce a gradient back to an operand's shape)
// and expand (repeat a reduced gradient back to the input's shape).
#include <algorithm>

#include "core/device_dispatch.h"
#include "core/functional.h"
#include "kernels/cpu/reduce.h"
#ifdef FWP_WITH_CUDA
#include "kernels/cuda/reduce.h"
#endif

namespace fwp {

namespace {
// Sums one dim, keeping it as size 1.
Tensor sum_one_dim(const Tensor& a, int64_t dim) {
  int64_t outer = 1, inner = 1, n = a.shape()[dim];
  for (int64_t i = 0; i < dim; ++i) outer *= a.shape()[i];
  for (int64_t i = dim + 1; i < a.dim(); ++i) inner *= a.shape()[i];
  Shape out_shape = a.shape();
  out_shape[dim] = 1;
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(a.device(), sum_dim, T)(out.data<T>(), a.data<T>(), outer, n, inner);
  });
  return out;
}
}  // namespace

Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  check_defined("sum", "a", a);
  std::vector<int64_t> ds;
  for (int64_t d : dims) ds.push_back(normalize_dim(d, a.dim(), "sum"));
  std::sort(ds.begin(), ds.end());
  FWP_CHECK_SHAPE(std::adjacent_find(ds.begin(), ds.end()) == ds.end(),
                  "sum: a dim appears twice in dims for shape ", a.shape());
  Tensor out = a;
  for (auto it = ds.rbegin(); it != ds.rend(); ++it) out = sum_one_dim(out, *it);
  if (ds.empty()) out = a.clone();
  if (!keepdim) {
    Shape s;
    for (int64_t i = 0; i < a.dim(); ++i)
      if (!std::binary_search(ds.begin(), ds.end(), i)) s.push_back(a.shape()[i]);
    out = out.reshape(s);
  }
  return out;
}

Tensor sum(const Tensor& a) {
  check_defined("sum", "a", a);
  return sum(a.reshape({a.numel()}), {0}, false);
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor s = sum(a, dims, keepdim);
  int64_t count = s.numel() == 0 ? 1 : a.numel() / std::max<int64_t>(s.numel(), 1);
  return mul(s, 1.0 / static_cast<double>(count));
}

Tensor sum_to(const Tensor& a, const Shape& shape) {
  check_defined("sum_to", "a", a);
  if (a.shape() == shape) return a;
  FWP_CHECK_SHAPE(shape.dim() <= a.dim(), "sum_to: cannot reduce ", a.shape(), " to ", shape);
  const int64_t lead = a.dim() - shape.dim();
  Tensor out = a;
  if (lead > 0) {  // all leading dims at once: view as (prod(leading dims), rest) and sum dim 0
    Shape folded{Shape(a.shape().begin(), a.shape().begin() + lead).numel()};
    folded.insert(folded.end(), a.shape().begin() + lead, a.shape().end());
    out = sum(a.reshape(folded), {0}, false);
  }
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < shape.dim(); ++i) {
    FWP_CHECK_SHAPE(shape[i] == out.shape()[i] || shape[i] == 1, "sum_to: cannot reduce ",
                    a.shape(), " to ", shape);
    if (shape[i] == 1 && out.shape()[i] != 1) dims.push_back(i);
  }
  if (!dims.empty()) out = sum(out, dims, true);
  return out;
}

Tensor expand(const Tensor& a, const Shape& shape) {
  check_defined("expand", "a", a);
  broadcast_shapes(a.shape(), shape, "expand");  // validates
  Tensor zeros = Tensor::zeros(shape, a.dtype(), a.device());
  return add(zeros, a);
}

}  // namespace fwp
