// Layer norm, dropout, embedding, cumsum and masked_fill at the tensor level: check arguments
// (messages name the op, the argument and the shapes), allocate, call the kernel on the
// arguments' device (core/device_dispatch.h).
#include "core/device_dispatch.h"
#include "core/functional.h"
#include "kernels/cpu/cumsum.h"
#include "kernels/cpu/dropout.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/masked_fill.h"
#ifdef FWP_WITH_CUDA
#include "kernels/cuda/cumsum.h"
#include "kernels/cuda/dropout.h"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/layernorm.h"
#include "kernels/cuda/masked_fill.h"
#endif

namespace fwp {

namespace {

// weight or bias of layer_norm: undefined, or (D) with x's dtype.
void check_affine(const char* arg, const Tensor& p, const Tensor& x) {
  if (!p.defined()) return;
  check_same_type("layer_norm", "x", x, arg, p);
  FWP_CHECK_SHAPE(p.shape() == Shape{x.size(-1)}, "layer_norm: ", arg, " must have shape (",
                  x.size(-1), ") to match the last dim of x=", x.shape(), ", got ", arg, "=",
                  p.shape());
}

template <typename T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Every id must name a row of a (V, D) table.
void check_ids(const char* op, const Indices& ids, int64_t V, const Shape& table) {
  for (int64_t n = 0; n < ids.numel(); ++n)
    FWP_CHECK(ids.values[n] >= 0 && ids.values[n] < V, op, ": id ", ids.values[n],
              " at flat index ", n, " is out of range for V = ", V, " rows (weight=", table, ")");
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                  Tensor* mean, Tensor* rstd) {
  check_defined("layer_norm", "x", x);
  FWP_CHECK_SHAPE(x.dim() >= 1 && x.size(-1) > 0, "layer_norm: x needs a non-empty last dim, got x=",
                  x.shape());
  check_affine("weight", weight, x);
  check_affine("bias", bias, x);
  FWP_CHECK(eps >= 0.0, "layer_norm: eps must be >= 0, got ", eps);
  const int64_t D = x.size(-1), N = x.numel() / D;
  const Shape rows(x.shape().begin(), x.shape().end() - 1);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor m = Tensor::empty(rows, x.dtype(), x.device());
  Tensor s = Tensor::empty(rows, x.dtype(), x.device());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(x.device(), layernorm_forward, T)(out.data<T>(), m.data<T>(), s.data<T>(),
                                                 x.data<T>(), data_or_null<T>(weight),
                                                 data_or_null<T>(bias), N, D,
                                                 static_cast<T>(eps));
  });
  if (mean) *mean = m;
  if (rstd) *rstd = s;
  return out;
}

LayerNormGrads layer_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd, bool need_dx,
                                   bool need_dweight, bool need_dbias) {
  check_same_type("layer_norm_backward", "x", x, "grad_out", grad_out);
  FWP_CHECK_SHAPE(grad_out.shape() == x.shape() && x.dim() >= 1, "layer_norm_backward: grad_out=",
                  grad_out.shape(), " must have the shape of x=", x.shape());
  check_affine("weight", weight, x);
  const int64_t D = x.size(-1), N = D == 0 ? 0 : x.numel() / D;
  for (const Tensor* t : {&mean, &rstd})
    FWP_CHECK_SHAPE(t->defined() && t->numel() == N && t->dtype() == x.dtype() &&
                        t->device() == x.device(),
                    "layer_norm_backward: mean and rstd must hold one ", x.dtype(),
                    " per row of x=", x.shape(), " on its device (", x.device(), ")");
  LayerNormGrads g;
  if (need_dx) g.dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (need_dweight) g.dweight = Tensor::empty({D}, x.dtype(), x.device());
  if (need_dbias) g.dbias = Tensor::empty({D}, x.dtype(), x.device());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    auto ptr = [](Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
    FWP_KERNEL(x.device(), layernorm_backward, T)(ptr(g.dx), ptr(g.dweight), ptr(g.dbias),
                                                  grad_out.data<T>(), x.data<T>(),
                                                  data_or_null<T>(weight), mean.data<T>(),
                                                  rstd.data<T>(), N, D);
  });
  return g;
}

Tensor dropout(const Tensor& x, double p, uint64_t seed) {
  check_defined("dropout", "x", x);
  FWP_CHECK(p >= 0.0 && p <= 1.0, "dropout: p must be in [0, 1], got p=", p);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(x.device(), dropout_forward, T)(out.data<T>(), x.data<T>(), x.numel(), p, seed);
  });
  return out;
}

Tensor embedding(const Tensor& weight, const Indices& ids) {
  check_defined("embedding", "weight", weight);
  FWP_CHECK_SHAPE(weight.dim() == 2, "embedding: weight must be 2-D (V, D), got weight=",
                  weight.shape());
  const int64_t V = weight.size(0), D = weight.size(1);
  check_ids("embedding", ids, V, weight.shape());
  Shape out_shape = ids.shape;
  out_shape.push_back(D);
  Tensor out = Tensor::empty(out_shape, weight.dtype(), weight.device());
  const IndicesOn rows(ids, weight.device(), "embedding");
  dispatch_dtype(weight.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(weight.device(), embedding_forward, T)(out.data<T>(), weight.data<T>(), rows.data(),
                                                      ids.numel(), D);
  });
  return out;
}

Tensor embedding_backward(const Tensor& grad_out, const Indices& ids, int64_t V) {
  check_defined("embedding_backward", "grad_out", grad_out);
  FWP_CHECK_SHAPE(grad_out.dim() == ids.shape.dim() + 1 &&
                      Shape(grad_out.shape().begin(), grad_out.shape().end() - 1) == ids.shape,
                  "embedding_backward: grad_out must have shape ids.shape + (D), got grad_out=",
                  grad_out.shape(), " for ids=", ids.shape);
  const int64_t D = grad_out.size(-1);
  check_ids("embedding_backward", ids, V, Shape{V, D});
  Tensor dweight = Tensor::empty({V, D}, grad_out.dtype(), grad_out.device());
  const IndicesOn rows(ids, grad_out.device(), "embedding_backward");
  dispatch_dtype(grad_out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(grad_out.device(), embedding_backward, T)(dweight.data<T>(), grad_out.data<T>(),
                                                         rows.data(), ids.numel(), V, D);
  });
  return dweight;
}

namespace {

Tensor scan(const char* name, const Tensor& a, int64_t dim, bool reverse) {
  check_defined(name, "a", a);
  FWP_CHECK_SHAPE(a.dim() >= 1, name, ": needs at least one dimension, got a scalar");
  const int64_t d = normalize_dim(dim, a.dim(), name);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= a.shape()[i];
  for (int64_t i = d + 1; i < a.dim(); ++i) inner *= a.shape()[i];
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    auto kernel = reverse ? FWP_KERNEL(a.device(), cumsum_backward, T)
                          : FWP_KERNEL(a.device(), cumsum_forward, T);
    kernel(out.data<T>(), a.data<T>(), outer, a.shape()[d], inner);
  });
  return out;
}

}  // namespace

Tensor cumsum(const Tensor& a, int64_t dim) { return scan("cumsum", a, dim, false); }
Tensor cumsum_backward(const Tensor& grad_out, int64_t dim) {
  return scan("cumsum_backward", grad_out, dim, true);
}

Tensor masked_fill(const Tensor& a, const Tensor& mask, double value) {
  check_defined("masked_fill", "a", a);
  check_defined("masked_fill", "mask", mask);
  FWP_CHECK(a.device() == mask.device(), "masked_fill: devices must match, got a=", a.device(),
            " and mask=", mask.device());
  bool fits = mask.dim() <= a.dim();
  for (int64_t i = 1; fits && i <= mask.dim(); ++i)  // right-aligned: equal sizes or 1
    fits = mask.size(-i) == a.size(-i) || mask.size(-i) == 1;
  FWP_CHECK_SHAPE(fits, "masked_fill: mask=", mask.shape(), " must broadcast to the shape of a=",
                  a.shape());
  const Tensor m = mask.to(a.dtype());
  // mask strides in a's index space: right-aligned, 0 along broadcast dims
  std::vector<int64_t> own = contiguous_strides(m.shape()), strides(a.dim(), 0);
  const int64_t off = a.dim() - m.dim();
  for (int64_t i = 0; i < m.dim(); ++i) strides[off + i] = m.shape()[i] == 1 ? 0 : own[i];
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(a.device(), masked_fill_forward, T)(out.data<T>(), a.data<T>(), m.data<T>(),
                                                   static_cast<T>(value), a.shape().data(),
                                                   strides.data(), static_cast<int>(a.dim()));
  });
  return out;
}

}  // namespace fwp
