// Inputs for the FWM-rule tests (tests/core/test_fwm_kernels.cpp, tests/autograd/
// test_fwm_rule.cpp) that make the clamp W / max(1, |W|_F) act on some steps and not on others.
#pragma once
#include <cmath>

#include "core/tensor.h"

namespace fwp_test {

// Rows of length ~1 (uniform entries over the last dim), times `big` on every third row and
// `small` on the others. Large values push |Wtilde| above 1 (the clamp acts); small ones let the
// write of a unit key shrink W along k, below 1 (it does not).
inline fwp::Tensor mixed_rows(const fwp::Shape& s, double big, double small, fwp::Rng& rng,
                              fwp::DType dt) {
  fwp::Tensor x = fwp::Tensor::uniform(s, rng, -1.0, 1.0, fwp::DType::f64);
  const int64_t D = s.back();
  double* p = x.data<double>();
  for (int64_t r = 0; r < x.numel() / D; ++r)
    for (int64_t j = 0; j < D; ++j)
      p[r * D + j] *= (r % 3 == 0 ? big : small) * std::sqrt(3.0 / double(D));
  return x.to(dt);
}

}  // namespace fwp_test
