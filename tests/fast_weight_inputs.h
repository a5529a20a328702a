// Inputs for the fast-weight tests (tests/core/test_*_kernels.cpp, tests/autograd/test_*.cpp):
// keys and queries on the simplex, as the layers feed them to the delta, sum and gated rules
// (the FWM rule's inputs are in tests/fwm_inputs.h).
#pragma once
#include "core/tensor.h"

namespace fwp_test {

// Rows of the last dimension on the simplex: entries ~ U(0.05, 1) drawn in f64, each row divided
// by its sum, then converted to dt. Draws numel(s) uniforms from rng, whatever the shape.
inline fwp::Tensor simplex(const fwp::Shape& s, fwp::Rng& rng, fwp::DType dt) {
  fwp::Tensor x = fwp::Tensor::uniform(s, rng, 0.05, 1.0, fwp::DType::f64);
  const int64_t D = s.back();
  double* p = x.data<double>();
  for (int64_t r = 0; r < x.numel() / D; ++r) {
    double sum = 0;
    for (int64_t j = 0; j < D; ++j) sum += p[r * D + j];
    for (int64_t j = 0; j < D; ++j) p[r * D + j] /= sum;
  }
  return x.to(dt);
}

}  // namespace fwp_test
