// Softmax, log-softmax and cross-entropy at the tensor level. The kernels work on rows of the
// last dim; softmax along another dim transposes that dim to the back, runs the row kernel and
// transposes back (two copies: the layers only ever use the last dim). Each runs on its
// arguments' device (core/device_dispatch.h).
#include <cmath>
#include <type_traits>

#include "core/device_dispatch.h"
#include "core/functional.h"
#include "kernels/cpu/cross_entropy.h"
#include "kernels/cpu/softmax.h"
#ifdef FWP_WITH_CUDA
#include "kernels/cuda/cross_entropy.h"
#include "kernels/cuda/softmax.h"
#endif

namespace fwp {

namespace {

// Runs row_op(out, in, rows, cols) over the rows of `a` along `dim` (moved to the back if needed).
template <typename RowOp>
Tensor along_dim(const char* name, const Tensor& a, int64_t dim, RowOp row_op) {
  check_defined(name, "a", a);
  FWP_CHECK_SHAPE(a.dim() >= 1, name, ": needs at least one dimension, got a scalar");
  const int64_t d = normalize_dim(dim, a.dim(), name);
  if (d != a.dim() - 1) return transpose(along_dim(name, transpose(a, d, -1), -1, row_op), d, -1);
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
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
  FWP_CHECK_SHAPE(g.shape() == y.shape(), name, ": grad_out=", g.shape(), " and y=", y.shape(),
                  " must have the same shape");
  FWP_CHECK_SHAPE(y.dim() >= 1, name, ": needs at least one dimension, got a scalar");
  const int64_t d = normalize_dim(dim, y.dim(), name);
  if (d != y.dim() - 1)
    return transpose(along_dim_backward(name, transpose(g, d, -1), transpose(y, d, -1), -1, row_op),
                     d, -1);
  Tensor dx = Tensor::empty(y.shape(), y.dtype(), y.device());
  const int64_t cols = y.size(-1), rows = cols == 0 ? 0 : y.numel() / cols;
  dispatch_dtype(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    row_op(dx.data<T>(), g.data<T>(), y.data<T>(), rows, cols);
  });
  return dx;
}

}  // namespace

// The element type behind a kernel's output pointer.
#define FWP_ELEMENT(ptr) std::remove_pointer_t<decltype(ptr)>

Tensor softmax(const Tensor& a, int64_t dim) {
  return along_dim("softmax", a, dim, [&](auto* out, const auto* in, int64_t rows, int64_t cols) {
    FWP_KERNEL(a.device(), softmax_forward, FWP_ELEMENT(out))(out, in, rows, cols);
  });
}

Tensor log_softmax(const Tensor& a, int64_t dim) {
  auto kernel = [&](auto* out, const auto* in, int64_t rows, int64_t cols) {
    FWP_KERNEL(a.device(), log_softmax_forward, FWP_ELEMENT(out))(out, in, rows, cols);
  };
  return along_dim("log_softmax", a, dim, kernel);
}

Tensor softmax_backward(const Tensor& g, const Tensor& y, int64_t dim) {
  auto kernel = [&](auto* dx, const auto* dout, const auto* out, int64_t rows, int64_t cols) {
    FWP_KERNEL(y.device(), softmax_backward, FWP_ELEMENT(dx))(dx, dout, out, rows, cols);
  };
  return along_dim_backward("softmax_backward", g, y, dim, kernel);
}

Tensor log_softmax_backward(const Tensor& g, const Tensor& y, int64_t dim) {
  auto kernel = [&](auto* dx, const auto* dout, const auto* out, int64_t rows, int64_t cols) {
    FWP_KERNEL(y.device(), log_softmax_backward, FWP_ELEMENT(dx))(dx, dout, out, rows, cols);
  };
  return along_dim_backward("log_softmax_backward", g, y, dim, kernel);
}

#undef FWP_ELEMENT

namespace {

// Validates logits (..., V) against targets (...); returns the number of counted rows.
int64_t check_cross_entropy(const char* name, const Tensor& logits, const Indices& targets,
                            int64_t ignore_index) {
  check_defined(name, "logits", logits);
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
  const Device device = logits.device();
  Tensor losses = Tensor::empty({N}, logits.dtype(), device);
  Tensor row_lse = Tensor::empty(targets.shape, logits.dtype(), device);
  const IndicesOn t(targets, device, "cross_entropy");
  dispatch_dtype(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(device, cross_entropy_forward, T)(losses.data<T>(), row_lse.data<T>(),
                                                 logits.data<T>(), t.data(), N, V, ignore_index);
  });
  if (lse) *lse = row_lse;
  const double inv_count = count == 0 ? 0.0 : 1.0 / double(count);
  // On the GPU the mean stays there (a device scalar, no copy back); on the CPU it is summed
  // in double here, as it always was.
  if (device != Device::cpu) return mul(sum(losses), inv_count).reshape({});
  double total = 0.0;
  dispatch_dtype(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (int64_t n = 0; n < N; ++n) total += losses.data<T>()[n];
  });
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
  const Device device = logits.device();
  Tensor dlogits = Tensor::empty(logits.shape(), logits.dtype(), device);
  // dL/dloss_n = grad_out / count; on the GPU grad_out is not copied back but broadcast there.
  const double inv_count = count == 0 ? 0.0 : 1.0 / double(count);
  Tensor dlosses = device == Device::cpu
                       ? Tensor::full({N}, count == 0 ? 0.0 : grad_out.item() / double(count),
                                      logits.dtype())
                       : mul(Tensor::full({N}, inv_count, logits.dtype(), device),
                             grad_out.reshape({1}));
  const IndicesOn t(targets, device, "cross_entropy_backward");
  dispatch_dtype(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    FWP_KERNEL(device, cross_entropy_backward, T)(dlogits.data<T>(), dlosses.data<T>(),
                                                  logits.data<T>(), lse.data<T>(), t.data(), N,
                                                  V, ignore_index);
  });
  return dlogits;
}

}  // namespace fwp
