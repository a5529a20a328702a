// Shared pieces of the CUDA conformance suite (tests/cuda/, tag [cuda]): the skip guard and the
// comparison against a CPU reference. Every test that needs a device starts with
// FWP_CUDA_OR_SKIP(): without a CUDA device (or an emulator standing in for the runtime) it
// prints "SKIPPED: no CUDA device" with the reason and returns; ctest reports it as skipped
// (SKIP_REGULAR_EXPRESSION in tests/CMakeLists.txt).
#pragma once
#include <algorithm>
#include <cmath>
#include <string>

#include "core/tensor.h"
#include "kernels/cuda/runtime.h"
#include "tests/catch.h"

#define FWP_CUDA_OR_SKIP()                                                                  \
  do {                                                                                      \
    if (!::fwp::kernels::cuda::available()) {                                               \
      WARN("SKIPPED: no CUDA device (" << ::fwp::kernels::cuda::unavailable_reason() << ")"); \
      return;                                                                               \
    }                                                                                       \
  } while (0)

namespace fwp_test {

// Largest |x| of a tensor (any device), at least 1: the scale for absolute tolerances.
inline double scale_of(const fwp::Tensor& t) {
  double m = 1.0;
  for (double x : t.to_vector()) m = std::max(m, std::abs(x));
  return m;
}

// actual (any device, any dtype) is close to expected (CPU): |a - e| <= tol * scale(expected).
inline void check_close(const fwp::Tensor& actual, const fwp::Tensor& expected, double tol,
                        const std::string& what) {
  INFO(what);
  const fwp::Tensor a = actual.to(fwp::Device::cpu).to(fwp::DType::f64);
  const fwp::Tensor e = expected.to(fwp::Device::cpu).to(fwp::DType::f64);
  CHECK_THAT(a, AllClose(e, tol * scale_of(e), 0.0));
}

}  // namespace fwp_test
