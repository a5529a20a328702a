// Internal helpers shared by the fused fast-weight ops (fast_weight.cpp, delta_chunk.cpp,
// gated_delta_rule.cpp, fwm_rule.cpp); not part of the API.
// The idea: optional tensors (W0, z0, an unused output's gradient) travel as undefined tensors
// up to the kernel call, where they become null pointers, which the kernels read as "zeros".
#pragma once
#include <vector>

#include "autograd/variable.h"

namespace fwp::fast_weight_detail {

// The data of an optional tensor: null when it is undefined.
template <typename Real>
Real* ptr_or_null(Tensor& t) {
  return t.defined() ? t.data<Real>() : nullptr;
}
template <typename Real>
const Real* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<Real>() : nullptr;
}

// The value of an optional input: an undefined tensor when the variable is undefined.
inline Tensor value_or_undefined(const Variable& x) { return x.defined() ? x.value() : Tensor(); }

// An upstream gradient the tape filled with zeros (the output was unused) becomes undefined,
// which the kernels read as "no gradient" (null) and skip without reading it.
inline Tensor unless_zero(const Tensor& g) {
  const bool zero = dispatch_dtype(g.dtype(), [&](auto tag) {
    using Real = decltype(tag);
    const Real* p = g.data<Real>();
    const int64_t n = g.numel();
    for (int64_t i = 0; i < n; ++i)
      if (p[i] != Real(0)) return false;
    return true;
  });
  return zero ? Tensor() : g;
}

// An op's gradients with those of the inputs that need none left undefined (autograd/op.h).
inline std::vector<Tensor> only_needed(std::vector<Tensor> grads, const std::vector<bool>& need) {
  for (size_t i = 0; i < grads.size(); ++i)
    if (!need[i]) grads[i] = Tensor();
  return grads;
}

}  // namespace fwp::fast_weight_detail
