// Plain-loop building blocks of the naive twins (delta_rule_naive.cpp, sum_rule_naive.cpp,
// gated_delta_rule_naive.cpp, fwm_rule_naive.cpp): the reference kernels that the tests hold the
// fast ones against. Sums run in index order, one term at a time, so a twin reads like the
// pseudo-code it implements and owes nothing to the SIMD code it checks.
#pragma once
#include <cstdint>

namespace fwp::kernels {

// a . b over n values, as a plain loop in index order.
template <typename Real>
Real plain_dot(const Real* a, const Real* b, int64_t n) {
  Real s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

}  // namespace fwp::kernels
