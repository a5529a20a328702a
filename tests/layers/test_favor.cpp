// Fused FAVOR+ (fwp::favor_plus) against its composed twin favor_plus_reference: values and input
// gradients under random upstream gradients, f64 finite differences, argument errors.
#include "tests/catch.h"

#include <algorithm>
#include <cmath>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "core/functional.h"
#include "layers/feature_maps.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::HasSubstr;
using V = std::vector<Variable>;

namespace {
double max_abs(const Tensor& t) {
  double m = 0.0;
  for (double v : t.to_vector()) m = std::max(m, std::abs(v));
  return m;
}
}  // namespace

TEST_CASE("fused favor_plus equals favor_plus_reference, values and gradients",
          "[layers][feature_maps][favor]") {
  struct Case {
    Shape x;
    int64_t m;
  };
  for (Case c : {Case{{1, 1}, 1}, Case{{3, 7, 5}, 7}, Case{{2, 9, 16}, 64}, Case{{4, 64}, 33}})
    for (DType dt : {DType::f64, DType::f32})
      for (double eps : {0.0, 1e-4}) {
        INFO("x=" << c.x << " m=" << c.m << " dtype=" << dt << " eps=" << eps);
        Rng rng(40 + c.m);
        Tensor omega = favor_projection(c.x.back(), c.m, rng, dt);
        Tensor x = Tensor::randn(c.x, rng, dt, 0.0, 0.5);
        Shape out = c.x;
        out.back() = 2 * c.m;
        Tensor g = Tensor::randn(out, rng, dt);
        Variable a(x.clone(), true), b(x.clone(), true);
        Variable fa = favor_plus(a, omega, eps), fb = favor_plus_reference(b, omega, eps);
        // f32: both use fast_exp; they differ in where c and u - c are rounded
        const double tol = dt == DType::f64 ? 1e-12 : 1e-5;
        REQUIRE(fa.shape() == out);
        CHECK_THAT(fa.value(), AllClose(fb.value(), tol * max_abs(fb.value()), tol));
        backward({fa, fb}, {g, g});
        CHECK_THAT(a.grad(), AllClose(b.grad(), tol * max_abs(b.grad()), tol));
      }
}

TEST_CASE("fused favor_plus passes f64 gradcheck", "[layers][feature_maps][favor][gradcheck]") {
  Rng rng(9);
  for (int64_t m : {1, 3, 7}) {
    Tensor omega = favor_projection(5, m, rng, DType::f64);
    Tensor x = Tensor::uniform({3, 5}, rng, -1.0, 1.0, DType::f64);
    for (double eps : {0.0, 1e-3}) {
      auto r = gradcheck([&](const V& v) { return favor_plus(v[0], omega, eps); }, {x});
      INFO("m=" << m << " eps=" << eps << ": " << r.message);
      CHECK(r.ok);
    }
  }
  Tensor omega = favor_projection(5, 4, rng, DType::f64);
  auto r = gradcheck([&](const V& v) { return favor_plus_reference(v[0], omega, 1e-4); },
                     {Tensor::uniform({2, 3, 5}, rng, -1.0, 1.0, DType::f64)});
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("favor_plus names its arguments and shapes on errors", "[layers][feature_maps][favor]") {
  Variable x(Tensor::zeros({2, 5}, DType::f64));
  CHECK_THROWS_WITH(favor_plus(x, Tensor::zeros({4, 3}, DType::f64)),
                    HasSubstr("favor_plus: omega must be (Dk, m) with Dk = x.size(-1) and m >= 1, "
                              "got x=(2, 5) and omega=(4, 3)"));
  CHECK_THROWS_WITH(favor_plus(x, Tensor::zeros({5, 0}, DType::f64)), HasSubstr("omega=(5, 0)"));
  CHECK_THROWS_WITH(favor_plus(x, Tensor::zeros({5, 3}, DType::f32)), HasSubstr("omega"));
  // the feature-map module goes through the fused op (same values as the reference)
  FeatureMap phi({.kind = FeatureMapKind::favor, .m = 6, .favor_eps = 1e-4}, 5, 3, DType::f64);
  Rng rng(4);
  Variable y(Tensor::randn({3, 5}, rng, DType::f64));
  CHECK_THAT(phi.forward(y).value(),
             AllClose(favor_plus_reference(y, phi.omega(), 1e-4).value(), 1e-14, 1e-12));
}
