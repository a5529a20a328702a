// Embedding, LayerNorm and Dropout modules: parameters and their initialisation, forward values
// against plain loops, gradients reaching the parameters, train/eval behaviour, error messages.
#include "tests/catch.h"

#include <cmath>

#include "autograd/functions.h"
#include "layers/dropout.h"
#include "layers/embedding.h"
#include "layers/layer_norm.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::HasSubstr;

TEST_CASE("embedding looks up rows and scatter-adds gradients", "[layers][embedding]") {
  Rng rng(1);
  Embedding emb(7, 3, rng, {.dtype = DType::f64});
  auto named = emb.named_parameters();
  REQUIRE(named.size() == 1);
  CHECK(named[0].first == "weight");
  CHECK(emb.weight.shape() == Shape{7, 3});
  Indices ids({2, 2}, {4, 0, 4, 6});
  Variable out = emb.forward(ids);
  REQUIRE(out.shape() == Shape{2, 2, 3});
  for (int64_t d = 0; d < 3; ++d) {
    CHECK(out.value().at({0, 0, d}) == emb.weight.value().at({4, d}));
    CHECK(out.value().at({1, 1, d}) == emb.weight.value().at({6, d}));
  }
  // d weight[r] = sum of the upstream rows that looked up r; row 4 is used twice
  Tensor g = Tensor::randn({2, 2, 3}, rng, DType::f64);
  backward({out}, {g});
  const Tensor& dw = emb.weight.grad();
  for (int64_t d = 0; d < 3; ++d) {
    CHECK_THAT(dw.at({4, d}), Catch::Matchers::WithinAbs(g.at({0, 0, d}) + g.at({1, 0, d}), 1e-15));
    CHECK(dw.at({0, d}) == g.at({0, 1, d}));
    CHECK(dw.at({1, d}) == 0.0);
  }
}

TEST_CASE("embedding initialises N(0, std) and checks its sizes", "[layers][embedding]") {
  Rng rng(2);
  Embedding emb(200, 50, rng, {.init_std = 0.02});
  double sum = 0, sq = 0;
  for (double v : emb.weight.value().to_vector()) {
    sum += v;
    sq += v * v;
  }
  const double n = 200 * 50, mean = sum / n, stddev = std::sqrt(sq / n - mean * mean);
  CHECK(std::abs(mean) < 0.02 * 4 / std::sqrt(n));
  CHECK_THAT(stddev, Catch::Matchers::WithinRel(0.02, 0.03));
  CHECK(emb.weight.dtype() == DType::f32);
  CHECK_THROWS_WITH(Embedding(0, 3, rng), HasSubstr("Embedding") && HasSubstr("num_embeddings=0"));
}

TEST_CASE("layer norm module normalises the last dim with ones/zeros init", "[layers][layer_norm]") {
  Rng rng(3);
  LayerNorm ln(5, {.dtype = DType::f64});
  auto named = ln.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "weight");
  CHECK(named[1].first == "bias");
  CHECK(ln.weight.value().to_vector() == std::vector<double>(5, 1.0));
  CHECK(ln.bias.value().to_vector() == std::vector<double>(5, 0.0));
  Variable x(Tensor::randn({3, 5}, rng, DType::f64, 2.0, 3.0));
  Tensor y = ln.forward(x).value();
  for (int64_t r = 0; r < 3; ++r) {  // reference: the formula, row by row
    double mean = 0, var = 0;
    for (int64_t i = 0; i < 5; ++i) mean += x.value().at({r, i}) / 5;
    for (int64_t i = 0; i < 5; ++i) var += std::pow(x.value().at({r, i}) - mean, 2) / 5;
    for (int64_t i = 0; i < 5; ++i)
      CHECK_THAT(y.at({r, i}),
                 Catch::Matchers::WithinAbs((x.value().at({r, i}) - mean) / std::sqrt(var + 1e-5), 1e-12));
  }
  // gradients reach the parameters: d bias = sum over rows of G, d weight = sum of G * xhat
  Tensor G = Tensor::randn({3, 5}, rng, DType::f64);
  backward({ln.forward(x)}, {G});
  REQUIRE(ln.weight.has_grad());
  REQUIRE(ln.bias.has_grad());
  for (int64_t i = 0; i < 5; ++i) {
    double db = 0, dw = 0;
    for (int64_t r = 0; r < 3; ++r) {
      db += G.at({r, i});
      dw += G.at({r, i}) * y.at({r, i});  // y = xhat while weight = 1, bias = 0
    }
    CHECK_THAT(ln.bias.grad().at({i}), Catch::Matchers::WithinAbs(db, 1e-12));
    CHECK_THAT(ln.weight.grad().at({i}), Catch::Matchers::WithinAbs(dw, 1e-12));
  }
  CHECK_THROWS_WITH(ln.forward(Variable(Tensor::zeros({2, 4}, DType::f64))),
                    HasSubstr("LayerNorm") && HasSubstr("(2, 4)"));
}

TEST_CASE("layer norm without affine has no parameters", "[layers][layer_norm]") {
  Rng rng(4);
  LayerNorm ln(4, {.affine = false});
  CHECK(ln.num_parameters() == 0);
  Tensor y = ln.forward(Variable(Tensor::randn({2, 3, 4}, rng))).value();
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t t = 0; t < 3; ++t) {
      double mean = 0;
      for (int64_t i = 0; i < 4; ++i) mean += y.at({b, t, i}) / 4;
      CHECK(std::abs(mean) < 1e-6);
    }
}

TEST_CASE("dropout zeroes and rescales in training, is the identity in eval", "[layers][dropout]") {
  Rng rng(5);
  Variable x(Tensor::uniform({100, 100}, rng, 1.0, 2.0));
  Dropout drop(0.3, 42);
  Tensor y = drop.forward(x).value();
  int64_t zeros = 0;
  auto xv = x.value().to_vector(), yv = y.to_vector();
  for (size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0.0) {
      ++zeros;
    } else {
      CHECK_THAT(yv[i], Catch::Matchers::WithinRel(xv[i] / 0.7, 1e-6));
    }
  }
  CHECK(std::abs(zeros / 10000.0 - 0.3) < 0.03);  // about 6 standard deviations
  // the module's own seeded generator: a second module with the same seed draws the same mask,
  // and the next call draws a different one
  Dropout same(0.3, 42);
  CHECK_THAT(same.forward(x).value(), AllClose(y, 0, 0));
  CHECK_FALSE(drop.forward(x).value().to_vector() == yv);
  drop.eval();
  CHECK_THAT(drop.forward(x).value(), AllClose(x.value(), 0, 0));
  CHECK_THROWS_WITH(Dropout(1.0), HasSubstr("Dropout: p must lie in [0, 1), got 1"));
}
