// Softmax, log-softmax and cross-entropy at the tensor level. The kernels work on rows of the
// last dim; softmax along another dim transposes that dim to the back, runs the row kernel and
// transposes back (two copies: the layers only ever use the last dim).
#include <cmath>

#include "core/functional.h"
#include "kernels/cpu/cross_entropy.h"
#include "kernels/cpu/softmax.h"

namespace fwp {

namespace {

// Runs row_op(out, in, rows, cols) over the rows of `a` along `dim` (moved to the back if needed).
template <typename RowOp>
Tensor along_dim(const char* name, const Tensor& a, int64_t dim, RowOp row_op) {
  check_defined(name, "a", a);
  require_cpu(a, name, "a");
  FWP_CHECK_SHAPE(a.dim() >= 1, name, ": needs at least one dimension, got a scalar");
  const int64_t d = normalize_dim(dim, a.dim(), name);
  if (d != a.dim() - 1) return transpose(along_dim(name, transpose(a, d, -1), -1, row_op), d, -1);
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  const int64_t cols = a.size(-1), rows = cols == 0 ? 0 : a.numel() / cols;
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    row_op(out.data<T>(), a.data<T>(), rows, cols);
  });
  return out;
}

// The same for a backward that reads (grad_out, y) rows.
template <typename RowOp>
Tensor along_dim_backward(const char* name, const Tensor& g, const Tensor& y, int64_t dim,
                          RowOp row_op) {
  check_same_type(name, "grad_out", g, "y", y);
  require_cpu(g, name, "grad_out");
  FWP_CHECK_SHAPE(g.shape() == y.shape(), name, ": grad_out=", g.shape(), " and y=", y.shape(),
                  " must have the same shape");
  FWP_CHECK_SHAPE(y.dim() >= 1, name, ": needs at least one dimension, got a scalar");
  const int64_t d = normalize_dim(dim, y.dim(), name);
  if (d != y.dim() - 1)
    return transpose(along_dim_backward(name, transpose(g, d, -1), transpose(y, d, -1), -1, row_op),
                     d, -1);
  Tensor dx = Tensor::empty(y.shape(), y.dtype());
  const int64_t cols = y.size(-1), rows = cols == 0 ? 0 : y.numel() / cols;
  dispatch_dtype(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    row_op(dx.data<T>(), g.data<T>(), y.data<T>(), rows, cols);
  });
  return dx;
}

}  // namespace

Tensor softmax(const Tensor& a, int64_t dim) {
  return along_dim("softmax", a, dim, [](auto* out, const auto* in, int64_t rows, int64_t cols) {
    kernels::softmax_forward(out, in, rows, cols);
  });
}

Tensor log_softmax(const Tensor& a, int64_t dim) {
  return along_dim("log_softmax", a, dim, [](auto* out, const auto* in, int64_t rows, int64_t cols) {
    kernels::log_softmax_forward(out, in, rows, cols);
  });
}

Tensor softmax_backward(const Tensor& g, const Tensor& y, int64_t dim) {
  auto kernel = [](auto* dx, const auto* dout, const auto* out, int64_t rows, int64_t cols) {
    kernels::softmax_backward(dx, dout, out, rows, cols);
  };
  return along_dim_backward("softmax_backward", g, y, dim, kernel);
}

Tensor log_softmax_backward(const Tensor& g, const Tensor& y, int64_t dim) {
  auto kernel = [](auto* dx, const auto* dout, const auto* out, int64_t rows, int64_t cols) {
    kernels::log_softmax_backward(dx, dout, out, rows, cols);
  };
  return along_dim_backward("log_softmax_backward", g, y, dim, kernel);
}

namespace {

// Validates logits (..., V) against targets (...); returns the number of counted rows.
int64_t check_cross_entropy(const char* name, const Tensor& logits, const Indices& targets,
                            int64_t ignore_index) {
  check_defined(name, "logits", logits);
  require_cpu(logits, name, "logits");
  FWP_CHECK_SHAPE(logits.dim() >= 1, name, ": logits must have a class dimension, got a scalar");
  const Shape rows_shape(logits.shape().begin(), logits.shape().end() - 1);
  FWP_CHECK_SHAPE(targets.shape == rows_shape, name, ": targets must have shape ", rows_shape,
                  " for logits=", logits.shape(), ", got targets=", targets.shape);
  const int64_t V = logits.size(-1);
  int64_t count = 0;
  for (int64_t n = 0; n < targets.numel(); ++n) {
    const int64_t t = targets.values[n];
    if (t == ignore_index) continue;
    FWP_CHECK(t >= 0 && t < V, name, ": target ", t, " at row ", n, " is out of range for V = ", V,
              " classes (logits=", logits.shape(), ", ignore_index=", ignore_index, ")");
    ++count;
  }
  return count;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Indices& targets, int64_t ignore_index,
                     Tensor* lse) {
  const int64_t count = check_cross_entropy("cross_entropy", logits, targets, ignore_index);
  const int64_t N = targets.numel(), V = logits.size(-1);
  Tensor losses = Tensor::empty({N}, logits.dtype());
  Tensor row_lse = Tensor::empty(targets.shape, logits.dtype());
  double total = 0.0;
  dispatch_dtype(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::cross_entropy_forward<T>(losses.data<T>(), row_lse.data<T>(), logits.data<T>(),
                                      targets.values.data(), N, V, ignore_index);
    for (int64_t n = 0; n < N; ++n) total += losses.data<T>()[n];
  });
  if (lse) *lse = row_lse;
  return Tensor::scalar(count == 0 ? 0.0 : total / double(count), logits.dtype());
}

Tensor cross_entropy_backward(const Tensor& grad_out, const Tensor& logits, const Tensor& lse,
                              const Indices& targets, int64_t ignore_index) {
  const char* name = "cross_entropy_backward";
  const int64_t count = check_cross_entropy(name, logits, targets, ignore_index);
  check_same_type(name, "logits", logits, "grad_out", grad_out);
  check_same_type(name, "logits", logits, "lse", lse);
  FWP_CHECK_SHAPE(grad_out.numel() == 1, name, ": grad_out must have one element, got ",
                  grad_out.shape());
  FWP_CHECK_SHAPE(lse.shape() == targets.shape, name, ": lse must have shape ", targets.shape,
                  ", got ", lse.shape());
  const int64_t N = targets.numel(), V = logits.size(-1);
  Tensor dlogits = Tensor::empty(logits.shape(), logits.dtype());
  const double scale = count == 0 ? 0.0 : grad_out.item() / double(count);
  Tensor dlosses = Tensor::full({N}, scale, logits.dtype());
  dispatch_dtype(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::cross_entropy_backward<T>(dlogits.data<T>(), dlosses.data<T>(), logits.data<T>(),
                                       lse.data<T>(), targets.values.data(), N, V, ignore_index);
  });
  return dlogits;
}

}  // namespace fwp
