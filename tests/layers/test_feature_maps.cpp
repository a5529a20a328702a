// Feature maps: values against hand computation, f64 gradchecks, FAVOR+ unbiasedness.
#include "tests/catch.h"

#include <cmath>

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "core/functional.h"
#include "core/linalg.h"
#include "layers/feature_maps.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::HasSubstr;
using V = std::vector<Variable>;

namespace {
Tensor rnd(const Shape& s, uint64_t seed) {
  Rng rng(seed);
  return Tensor::uniform(s, rng, -1.0, 1.0, DType::f64);
}
// Values bounded away from 0 so relu/elu kinks are never crossed by finite differences.
Tensor away_from_zero(const Shape& s, uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::uniform(s, rng, 0.2, 1.0, DType::f64);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] *= (rng.uniform() < 0.5 ? -1.0 : 1.0);
  return t;
}
void check_grad(const GradFn& f, const std::vector<Tensor>& in) {
  auto r = gradcheck(f, in);
  INFO(r.message);
  CHECK(r.ok);
}
}  // namespace

TEST_CASE("dpfp matches its definition", "[layers][feature_maps]") {
  // x = (1, -2): r = relu([1, -2, -1, 2]) = [1, 0, 0, 2]
  // roll(r, 1) = [2, 1, 0, 0] -> r * roll = [2, 0, 0, 0];  roll(r, 2) = [0, 2, 1, 0] -> [0, 0, 0, 0]
  Variable x(Tensor::from_vector({1, -2}, {1, 2}, DType::f64));
  CHECK(dpfp(x, 1).value().to_vector() == std::vector<double>{2, 0, 0, 0});
  CHECK(dpfp(x, 2).value().to_vector() == std::vector<double>{2, 0, 0, 0, 0, 0, 0, 0});
  CHECK(dpfp(x, 3).value().shape() == Shape{1, 12});
  FeatureMapConfig c{.kind = FeatureMapKind::dpfp, .nu = 3};
  CHECK(feature_dim(c, 64) == 384);
  CHECK_THROWS_WITH(dpfp(x, 4), HasSubstr("nu"));
}

TEST_CASE("fused dpfp equals the composed one, values and gradients", "[layers][feature_maps]") {
  for (int64_t nu : {1, 2, 3, 5}) {
    for (DType dt : {DType::f32, DType::f64}) {
      Rng rng(20 + nu);
      Tensor x = Tensor::randn({3, 7, 4}, rng, dt), g = Tensor::randn({3, 7, 8 * nu}, rng, dt);
      Variable a(x.clone(), true), b(x.clone(), true);
      Variable fa = dpfp(a, nu), fb = dpfp_reference(b, nu);
      const double tol = dt == DType::f64 ? 1e-14 : 1e-6;
      CHECK_THAT(fa.value(), AllClose(fb.value(), tol, tol));
      backward({fa, fb}, {g, g});
      CHECK_THAT(a.grad(), AllClose(b.grad(), tol, tol));
    }
  }
  CHECK_THROWS_WITH(dpfp(Variable(Tensor::zeros({2, 3})), 6), HasSubstr("nu must be in [1, 5]"));
}

TEST_CASE("linear and tanh feature maps match their definitions", "[layers][feature_maps]") {
  Variable x(Tensor::from_vector({-1.0, 0.5}, {2}, DType::f64));
  auto y = elu_plus_one(x).value().to_vector();
  CHECK_THAT(y[0], Catch::Matchers::WithinRel(std::exp(-1.0), 1e-12));
  CHECK_THAT(y[1], Catch::Matchers::WithinRel(1.5, 1e-12));
  FeatureMap t({.kind = FeatureMapKind::tanh}, 2, 0, DType::f64);
  CHECK_THAT(t.forward(x).value().at({0}), Catch::Matchers::WithinRel(std::tanh(-1.0), 1e-12));
}

TEST_CASE("feature maps pass f64 gradcheck", "[layers][feature_maps][gradcheck]") {
  check_grad([](const V& v) { return elu_plus_one(v[0]); }, {away_from_zero({3, 5}, 1)});
  for (int64_t nu : {1, 2, 3}) {
    check_grad([nu](const V& v) { return dpfp(v[0], nu); }, {away_from_zero({3, 5}, 2 + nu)});
    check_grad([nu](const V& v) { return dpfp_reference(v[0], nu); }, {away_from_zero({3, 5}, 5 + nu)});
  }
  Rng rng(9);
  Tensor omega = favor_projection(5, 7, rng, DType::f64);
  check_grad([&](const V& v) { return favor_plus(v[0], omega); }, {rnd({3, 5}, 10)});
  check_grad([&](const V& v) { return favor_plus(v[0], omega, 1e-4); }, {rnd({1, 5}, 11)});
  FeatureMap t({.kind = FeatureMapKind::tanh}, 5, 0, DType::f64);
  check_grad([&](const V& v) { return t.forward(v[0]); }, {rnd({7, 5}, 12)});
  check_grad([](const V& v) { return sum_normalize(elu_plus_one(v[0])); }, {away_from_zero({3, 5}, 13)});
}

TEST_CASE("favor projection has orthogonal blocks with chi lengths", "[layers][feature_maps]") {
  Rng rng(3);
  const int64_t d = 8, m = 20;  // blocks of 8, 8, 4 columns
  Tensor w = favor_projection(d, m, rng, DType::f64);
  REQUIRE(w.shape() == Shape{d, m});
  for (int64_t start : {0, 8, 16}) {
    int64_t cols = std::min<int64_t>(d, m - start);
    Tensor block = slice(w, 1, start, start + cols);
    Tensor gram = matmul(block, block, true, false);  // (cols, cols)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j)
        if (i != j) CHECK(std::abs(gram.at({i, j})) < 1e-10 * (1 + gram.at({i, i})));
  }
  Tensor q = qr_q(Tensor::randn({6, 4}, rng, DType::f64));
  CHECK_THAT(matmul(q, q, true, false), AllClose(Tensor::from_vector(
      {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, {4, 4}, DType::f64), 1e-12, 0));
}

TEST_CASE("favor+ estimates the softmax kernel without bias", "[layers][feature_maps]") {
  // E[phi(x) . phi(y)] = exp(x . y) for FAVOR+ (Choromanski et al. 2021, Lemma 1).
  Rng data(5);
  const int64_t d = 8;
  Tensor x = mul(Tensor::randn({1, d}, data, DType::f64), 0.35);
  Tensor y = mul(Tensor::randn({1, d}, data, DType::f64), 0.35);
  const double exact = std::exp(sum(mul(x, y)).item());
  std::vector<double> spread;
  for (int64_t m : {16, 64, 256}) {
    Rng rng(100 + m);
    const int draws = 400;
    double mean = 0.0, sq = 0.0;
    for (int i = 0; i < draws; ++i) {
      Tensor omega = favor_projection(d, m, rng, DType::f64);
      double est = sum(mul(favor_plus(Variable(x), omega).value(),
                           favor_plus(Variable(y), omega).value())).item();
      mean += est / draws;
      sq += est * est / draws;
    }
    double sd = std::sqrt(std::max(0.0, sq - mean * mean));
    INFO("m=" << m << " mean " << mean << " exact " << exact << " single-draw sd " << sd);
    CHECK(std::abs(mean - exact) < 4.0 * sd / std::sqrt(double(draws)) + 1e-12);
    spread.push_back(sd);
  }
  CHECK(spread[1] < spread[0] * 0.75);  // the error of one draw shrinks with m (as 1/sqrt(m))
  CHECK(spread[2] < spread[1] * 0.75);
}

TEST_CASE("feature map module redraw policies", "[layers][feature_maps]") {
  FeatureMapConfig c{.kind = FeatureMapKind::favor, .m = 8, .redraw = FavorRedraw::training_only};
  FeatureMap phi(c, 4, 7, DType::f64);
  Tensor first = phi.omega().clone();
  phi.begin_forward();  // training: redraw
  CHECK_FALSE(phi.omega().to_vector() == first.to_vector());
  Tensor trained = phi.omega().clone();
  phi.eval();
  phi.begin_forward();  // evaluation: the last training draw is kept
  CHECK(phi.omega().to_vector() == trained.to_vector());
  FeatureMap fixed({.kind = FeatureMapKind::favor, .m = 8, .redraw = FavorRedraw::fixed}, 4, 7, DType::f64);
  Tensor f0 = fixed.omega().clone();
  fixed.begin_forward();
  CHECK(fixed.omega().to_vector() == f0.to_vector());
  CHECK(fixed.named_buffers().size() == 1);
  CHECK_THROWS_WITH(phi.forward(Variable(Tensor::zeros({2, 5}, DType::f64))), HasSubstr("(2, 5)"));
  CHECK_THROWS_WITH(feature_map_kind_from_string("relu"), HasSubstr("relu"));
}
