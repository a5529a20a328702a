// One include for the tests that works with Catch2 v2 (Debian) and v3 (other distributions),
// plus fwp's tensor matcher: CHECK_THAT(actual, AllClose(expected, atol, rtol)).
// On failure AllClose prints the shape, the number of mismatches and the worst element.
#pragma once
#ifdef FWP_CATCH3
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif

#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "core/tensor.h"

namespace fwp_test {

#ifdef FWP_CATCH3
template <typename T> using MatcherBase = Catch::Matchers::MatcherBase<T>;
inline auto HasSubstr(const std::string& s) { return Catch::Matchers::ContainsSubstring(s); }
#else
template <typename T> using MatcherBase = Catch::MatcherBase<T>;
inline auto HasSubstr(const std::string& s) { return Catch::Matchers::Contains(s); }
#endif

// |actual - expected| <= atol + rtol * |expected| for every element; shapes must be equal.
class AllCloseMatcher : public MatcherBase<fwp::Tensor> {
 public:
  AllCloseMatcher(fwp::Tensor expected, double atol, double rtol)
      : expected_(std::move(expected)), atol_(atol), rtol_(rtol) {}

  bool match(const fwp::Tensor& actual) const override {
    std::ostringstream os;
    os.precision(10);
    if (actual.shape() != expected_.shape()) {
      os << "shape " << actual.shape() << " != expected shape " << expected_.shape();
      detail_ = os.str();
      return false;
    }
    auto a = actual.to_vector(), e = expected_.to_vector();
    int64_t bad = 0, worst = -1;
    double worst_ratio = 0.0;
    for (size_t i = 0; i < a.size(); ++i) {
      double diff = std::abs(a[i] - e[i]);
      double ratio = diff == 0.0 ? 0.0 : diff / (atol_ + rtol_ * std::abs(e[i]));
      if (std::isnan(ratio)) ratio = INFINITY;  // NaN anywhere is a mismatch
      if (ratio > 1.0) ++bad;
      if (ratio > worst_ratio || worst < 0) {
        worst_ratio = ratio;
        worst = static_cast<int64_t>(i);
      }
    }
    os << "shape " << actual.shape() << ": " << bad << " of " << a.size()
       << " elements mismatch";
    if (worst >= 0)
      os << "; worst at flat index " << worst << ": " << a[worst] << " vs expected " << e[worst]
         << " (error/tolerance " << worst_ratio << ")";
    detail_ = os.str();
    return bad == 0;
  }

  std::string describe() const override {
    std::ostringstream os;
    os << "is all-close (atol " << atol_ << ", rtol " << rtol_ << "): " << detail_;
    return os.str();
  }

 private:
  fwp::Tensor expected_;
  double atol_, rtol_;
  mutable std::string detail_;
};

inline AllCloseMatcher AllClose(const fwp::Tensor& expected, double atol = 1e-6,
                                double rtol = 1e-5) {
  return AllCloseMatcher(expected, atol, rtol);
}

// Fills t with NaN, e.g. a kernel workspace between two calls: a kernel that reads workspace it
// did not write in the same call then gives NaN instead of what the previous call left there
// (fresh memory is NaN already in the test runner, tests/main.cpp).
inline void poison(fwp::Tensor& t) { t.fill_(std::numeric_limits<double>::quiet_NaN()); }

}  // namespace fwp_test
