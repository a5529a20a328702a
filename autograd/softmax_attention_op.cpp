// The fused softmax-attention op: argument checks, then the kernels of kernels/softmax_attention.h
// on the arguments' device (FWP_FUSED_KERNEL, core/device_dispatch.h).
#include "autograd/softmax_attention_op.h"

#include <cmath>

#include "autograd/fast_weight_util.h"
#include "autograd/functions.h"
#include "core/device_dispatch.h"
#include "core/functional.h"
#include "kernels/softmax_attention.h"

namespace fwp {

namespace {

// Saves q, k, v, y and lse (B, H, T); the mask travels as its parts (keep is an f32/f64 copy of
// key_valid). dq, dk, dv: kernels/softmax_attention.h.
struct SoftmaxAttentionOp : Op {
  Tensor q, k, v, y, lse, keep;
  bool causal = false;
  int64_t offset = 0;
  const char* name() const override { return "fused_softmax_attention"; }
  std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>& need) override {
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), S = k.size(2);
    const int64_t Dk = q.size(3), Dv = v.size(3);
    const Device dev = q.device();
    Tensor dq = Tensor::empty(q.shape(), q.dtype(), dev);
    Tensor dk = Tensor::empty(k.shape(), q.dtype(), dev), dv = Tensor::empty(v.shape(), q.dtype(), dev);
    dispatch_dtype(q.dtype(), [&](auto tag) {
      using Real = decltype(tag);
      const kernels::AttentionMask<Real> mask{causal, offset, keep.defined() ? keep.data<Real>() : nullptr, H};
      Tensor ws = Tensor::empty({kernels::softmax_attention_workspace<Real>(
                                    dev == Device::cuda, true, B * H, T, S, Dk, Dv)},
                                q.dtype(), dev);
      FWP_FUSED_KERNEL(dev, softmax_attention_backward, Real)(
          dq.data<Real>(), dk.data<Real>(), dv.data<Real>(), g[0].data<Real>(), q.data<Real>(),
          k.data<Real>(), v.data<Real>(), y.data<Real>(), lse.data<Real>(), mask,
          Real(1 / std::sqrt(double(Dk))), B * H, T, S, Dk, Dv, ws.data<Real>());
    });
    return fast_weight_detail::only_needed({dq, dk, dv}, need);
  }
};

}  // namespace

Variable fused_softmax_attention(const Variable& q, const Variable& k, const Variable& v,
                                 bool causal, int64_t offset, const Tensor& key_valid) {
  const char* op = "fused_softmax_attention";
  FWP_CHECK_SHAPE(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, op,
                  ": q, k, v must be 4-D (B, H, T, D), got q=", q.shape(), " k=", k.shape(),
                  " v=", v.shape());
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), S = k.size(2);
  const int64_t Dk = q.size(3), Dv = v.size(3);
  FWP_CHECK_SHAPE(k.size(0) == B && k.size(1) == H && k.size(3) == Dk, op,
                  ": k must be (B, H, S, Dk) with q's B, H, Dk, got q=", q.shape(), " k=", k.shape());
  FWP_CHECK_SHAPE(v.size(0) == B && v.size(1) == H && v.size(2) == S, op,
                  ": v must be (B, H, S, Dv) with k's B, H, S, got k=", k.shape(), " v=", v.shape());
  FWP_CHECK(k.dtype() == q.dtype() && v.dtype() == q.dtype(), op, ": q, k, v must share a dtype");
  check_same_type(op, "q", q.value(), "k", k.value());  // and one device
  check_same_type(op, "q", q.value(), "v", v.value());
  const Device dev = q.device();
  FWP_CHECK(offset >= 0, op, ": offset must be >= 0 (keys before the first query), got ", offset);
  FWP_CHECK(Dk > 0, op, ": the key width Dk must be positive, got q=", q.shape());
  Tensor keep;
  if (key_valid.defined()) {
    FWP_CHECK_SHAPE(key_valid.shape() == Shape({B, S}), op, ": key_valid must be (B, S) = (", B,
                    ", ", S, "), got ", key_valid.shape());
    keep = key_valid.to(q.dtype()).to(dev);  // the mask may come from the host
  }
  const DType dt = q.dtype();
  Tensor y = Tensor::empty({B, H, T, Dv}, dt, dev), lse = Tensor::empty({B, H, T}, dt, dev);
  dispatch_dtype(dt, [&](auto tag) {
    using Real = decltype(tag);
    const kernels::AttentionMask<Real> mask{causal, offset, keep.defined() ? keep.data<Real>() : nullptr, H};
    Tensor ws = Tensor::empty(
        {kernels::softmax_attention_workspace<Real>(dev == Device::cuda, false, B * H, T, S, Dk, Dv)},
        dt, dev);
    FWP_FUSED_KERNEL(dev, softmax_attention_forward, Real)(
        y.data<Real>(), lse.data<Real>(), q.value().data<Real>(), k.value().data<Real>(),
        v.value().data<Real>(), mask, Real(1 / std::sqrt(double(Dk))), B * H, T, S, Dk, Dv,
        ws.data<Real>());
  });
  auto node = std::make_shared<SoftmaxAttentionOp>();
  if (any_requires_grad({q, k, v})) {
    node->q = q.value();
    node->k = k.value();
    node->v = v.value();
    node->y = y;
    node->lse = lse;
    node->keep = keep;
    node->causal = causal;
    node->offset = offset;
  }
  return record(node, {q, k, v}, y);
}

}  // namespace fwp
