// f64 finite-difference checks of the nonlinearities, softmax family, losses and nn ops on tiny
// odd shapes with random upstream gradients; fused ops against their composed references;
// masked rows without NaN; dropout and embedding behaviour through the tape.
#include <cmath>

#include "tests/catch.h"

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "core/functional.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::HasSubstr;
using V = std::vector<Variable>;

namespace {
Tensor rnd(const Shape& s, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Rng rng(seed);
  return Tensor::uniform(s, rng, lo, hi, DType::f64);
}
// Uniform magnitudes in [lo, hi] with random signs: inputs kept away from a kink at 0.
Tensor away_from_zero(const Shape& s, uint64_t seed, double lo = 0.1, double hi = 1.5) {
  Rng rng(seed);
  Tensor t = Tensor::uniform(s, rng, lo, hi, DType::f64);
  for (int64_t i = 0; i < t.numel(); ++i)
    if (rng.uniform() < 0.5) t.data<double>()[i] = -t.data<double>()[i];
  return t;
}
#define CHECK_GRAD(f, ...)               \
  do {                                   \
    auto r_ = gradcheck(f, __VA_ARGS__); \
    INFO(r_.message);                    \
    CHECK(r_.ok);                        \
  } while (0)

const std::vector<Shape> kShapes = {{1}, {3, 5}, {7}, {1, 3, 5}};
const double kInf = std::numeric_limits<double>::infinity();
}  // namespace

TEST_CASE("gradcheck pointwise nonlinearities", "[autograd][gradcheck]") {
  uint64_t seed = 1;
  for (const Shape& s : kShapes) {
    CHECK_GRAD([](const V& v) { return exp(v[0]); }, {rnd(s, seed++, -2.0, 2.0)});
    CHECK_GRAD([](const V& v) { return log(v[0]); }, {rnd(s, seed++, 0.2, 3.0)});
    CHECK_GRAD([](const V& v) { return sqrt(v[0]); }, {rnd(s, seed++, 0.2, 3.0)});
    CHECK_GRAD([](const V& v) { return tanh(v[0]); }, {rnd(s, seed++, -2.0, 2.0)});
    CHECK_GRAD([](const V& v) { return sigmoid(v[0]); }, {rnd(s, seed++, -4.0, 4.0)});
    CHECK_GRAD([](const V& v) { return relu(v[0]); }, {away_from_zero(s, seed++)});
    CHECK_GRAD([](const V& v) { return elu(v[0]); }, {away_from_zero(s, seed++)});
    CHECK_GRAD([](const V& v) { return elu(v[0], 0.3); }, {away_from_zero(s, seed++)});
    CHECK_GRAD([](const V& v) { return square(v[0]); }, {rnd(s, seed++)});
  }
  // a chain reuses outputs saved by the ops: elu(x) + 1 as the Linear-attention feature map
  CHECK_GRAD([](const V& v) { return sqrt(elu(v[0]) + 1.0) * sigmoid(v[0]); },
             {away_from_zero({3, 5}, 99)});
}

TEST_CASE("gradcheck softmax and log_softmax along every dim", "[autograd][gradcheck]") {
  for (int64_t dim : {-1, 0, 1, 2}) {
    CHECK_GRAD([=](const V& v) { return softmax(v[0], dim); }, {rnd({3, 5, 7}, 10 + dim, -2.0, 2.0)});
    CHECK_GRAD([=](const V& v) { return log_softmax(v[0], dim); }, {rnd({3, 1, 5}, 20 + dim, -2.0, 2.0)});
  }
  CHECK_GRAD([](const V& v) { return softmax(v[0]); }, {rnd({1}, 30)});
  CHECK_GRAD([](const V& v) { return log_softmax(v[0]); }, {rnd({7}, 31)});
}

TEST_CASE("gradcheck causal-masked softmax and no NaN for fully masked rows",
          "[autograd][gradcheck]") {
  // scores (B=3, T=5, T=5), causal mask, plus one row masked entirely by a second mask
  Tensor causal = Tensor::zeros({5, 5}, DType::f64);
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t j = i + 1; j < 5; ++j) causal.data<double>()[i * 5 + j] = 1.0;
  CHECK_GRAD([&](const V& v) { return softmax(masked_fill(v[0], causal, -kInf)); },
             {rnd({3, 5, 5}, 40, -2.0, 2.0)});
  // log_softmax is -inf where masked; the outer fill keeps the checked sum finite
  CHECK_GRAD([&](const V& v) {
    return masked_fill(log_softmax(masked_fill(v[0], causal, -kInf)), causal, 0.0);
  }, {rnd({3, 5, 5}, 41, -2.0, 2.0)});
  Tensor row_mask = Tensor::zeros({5, 1}, DType::f64);
  row_mask.data<double>()[2] = 1.0;  // query 2 may see nothing
  Variable x(rnd({3, 5, 5}, 42), true);
  Variable y = softmax(masked_fill(masked_fill(x, causal, -kInf), row_mask, -kInf));
  for (int64_t j = 0; j < 5; ++j) CHECK(y.value().at({1, 2, j}) == 0.0);
  backward({y}, {rnd({3, 5, 5}, 43)});
  int64_t nonfinite = 0, masked_nonzero = 0;
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 5; ++j) {
        const double gx = x.grad().at({b, i, j});
        nonfinite += !std::isfinite(gx);
        masked_nonzero += (j > i || i == 2) && gx != 0.0;
      }
  CHECK(nonfinite == 0);
  CHECK(masked_nonzero == 0);
}

TEST_CASE("gradcheck cross_entropy with ignored rows and (B, T, V) logits",
          "[autograd][gradcheck]") {
  CHECK_GRAD([](const V& v) { return cross_entropy(v[0], Indices({3}, {4, 0, 2})); },
             {rnd({3, 5}, 50, -2.0, 2.0)});
  CHECK_GRAD([](const V& v) { return cross_entropy(v[0], Indices({7}, {0, -100, 2, 1, -100, 2, 0})); },
             {rnd({7, 3}, 51, -2.0, 2.0)});
  CHECK_GRAD([](const V& v) { return cross_entropy(v[0], Indices({1}, {0})); }, {rnd({1, 1}, 52)});
  CHECK_GRAD([](const V& v) { return cross_entropy(v[0], Indices({1, 3}, {6, 0, 3}), 6) * 3.0; },
             {rnd({1, 3, 7}, 53, -2.0, 2.0)});
}

TEST_CASE("cross_entropy fused equals the composed -mean(log_softmax picked)", "[autograd][fused]") {
  const int64_t N = 7, Vn = 5;
  Indices t({N}, {0, 4, -100, 1, 3, -100, 2});
  Tensor onehot = Tensor::zeros({N, Vn}, DType::f64);
  for (int64_t n = 0; n < N; ++n)
    if (t.values[n] >= 0) onehot.data<double>()[n * Vn + t.values[n]] = 1.0;
  Variable x1(rnd({N, Vn}, 60, -3.0, 3.0), true), x2(x1.value().clone(), true);
  Variable fused = cross_entropy(x1, t);
  backward(fused * 1.7);  // (backward clears the tape: one graph at a time)
  Variable composed = -sum(log_softmax(x2) * Variable(onehot)) / 5.0;
  backward(composed * 1.7);
  CHECK(std::abs(fused.item() - composed.item()) < 1e-14);
  CHECK_THAT(x1.grad(), AllClose(x2.grad(), 1e-15, 1e-12));
}

TEST_CASE("gradcheck mse_loss", "[autograd][gradcheck]") {
  CHECK_GRAD([](const V& v) { return mse_loss(v[0], v[1]); }, {rnd({3, 5}, 70), rnd({3, 5}, 71)});
  CHECK_GRAD([](const V& v) { return mse_loss(v[0], v[1]); }, {rnd({1}, 72), rnd({1}, 73)});
  Variable a(Tensor::from_vector({1, 2, 3}, {3}, DType::f64)), b(Tensor::zeros({3}, DType::f64));
  CHECK(std::abs(mse_loss(a, b).item() - 14.0 / 3.0) < 1e-15);
  CHECK_THROWS_WITH(mse_loss(a, Variable(Tensor::zeros({3, 1}, DType::f64))),
                    HasSubstr("mse_loss: shapes must match, got a=(3) and b=(3, 1)"));
}

TEST_CASE("gradcheck layer_norm with every combination of weight and bias",
          "[autograd][gradcheck]") {
  for (const Shape& s : std::vector<Shape>{{3, 5}, {1, 3, 7}, {5, 1}, {7}}) {
    const int64_t D = s.back();
    Tensor x = rnd(s, 80, -2.0, 2.0), w = rnd({D}, 81, 0.5, 1.5), b = rnd({D}, 82);
    CHECK_GRAD([](const V& v) { return layer_norm(v[0], v[1], v[2]); }, {x, w, b});
    CHECK_GRAD([](const V& v) { return layer_norm(v[0], v[1], Variable()); }, {x, w});
    CHECK_GRAD([](const V& v) { return layer_norm(v[0], Variable(), v[1]); }, {x, b});
    CHECK_GRAD([](const V& v) { return layer_norm(v[0], Variable(), Variable(), 1e-3); }, {x});
    GradcheckOptions params_only;  // x constant: only the parameters need gradients
    params_only.check = {false, true, true};
    CHECK_GRAD([](const V& v) { return layer_norm(v[0], v[1], v[2]); }, {x, w, b}, params_only);
  }
}

TEST_CASE("layer_norm fused equals the composed formula", "[autograd][fused]") {
  Tensor x0 = rnd({5, 7}, 90, -2.0, 2.0), w0 = rnd({7}, 91), b0 = rnd({7}, 92), g = rnd({5, 7}, 93);
  Variable x1(x0.clone(), true), w1(w0.clone(), true), b1(b0.clone(), true);
  Variable x2(x0.clone(), true), w2(w0.clone(), true), b2(b0.clone(), true);
  Variable fused = layer_norm(x1, w1, b1, 1e-5);
  backward({fused}, {g});
  Variable xc = x2 - mean(x2, {-1}, true);
  Variable composed = xc / sqrt(mean(square(xc), {-1}, true) + 1e-5) * w2 + b2;
  backward({composed}, {g});
  CHECK_THAT(fused.value(), AllClose(composed.value(), 1e-13, 1e-12));
  CHECK_THAT(x1.grad(), AllClose(x2.grad(), 1e-12, 1e-10));
  CHECK_THAT(w1.grad(), AllClose(w2.grad(), 1e-13, 1e-12));
  CHECK_THAT(b1.grad(), AllClose(b2.grad(), 1e-13, 1e-12));
  CHECK_THROWS_WITH(layer_norm(x1, Variable(Tensor::ones({6}, DType::f64)), Variable()),
                    HasSubstr("weight=(6)") && HasSubstr("x=(5, 7)"));
}

TEST_CASE("gradcheck dropout, and its training/eval behaviour", "[autograd][gradcheck]") {
  CHECK_GRAD([](const V& v) { Rng rng(7); return dropout(v[0], 0.4, rng, true); }, {rnd({3, 5}, 100)});
  CHECK_GRAD([](const V& v) { Rng rng(8); return dropout(v[0], 0.5, rng, true); }, {rnd({7}, 101)});
  Variable x(Tensor::ones({1000}, DType::f64), true);
  Rng rng(9);
  Variable y = dropout(x, 0.25, rng, true);
  backward({y}, {Tensor::ones({1000}, DType::f64)});
  CHECK_THAT(x.grad(), AllClose(y.value(), 0, 0));  // dL/dx = keep / (1 - p) = y for x = 1
  Rng r1(3), r2(3);
  CHECK_THAT(dropout(x, 0.5, r1, true).value(), AllClose(dropout(x, 0.5, r2, true).value(), 0, 0));
  CHECK_THAT(dropout(x, 0.5, r1, true).value(), !AllClose(dropout(x, 0.5, r1, true).value(), 0, 0));
  const uint64_t before = Rng(rng).next_u64();
  CHECK(dropout(x, 0.5, rng, false).impl() == x.impl());  // eval: identity, no draw from rng
  CHECK(dropout(x, 0.0, rng, true).impl() == x.impl());
  CHECK(rng.next_u64() == before);
  CHECK_THROWS_WITH(dropout(x, -0.1, rng, true), HasSubstr("dropout: p must be in [0, 1]"));
}

TEST_CASE("gradcheck embedding; backward accumulates repeated ids", "[autograd][gradcheck]") {
  CHECK_GRAD([](const V& v) { return embedding(v[0], Indices({3, 5}, {0, 2, 2, 4, 1, 3, 3, 3, 0, 2, 4, 4, 1, 0, 2})); },
             {rnd({5, 3}, 110)});
  CHECK_GRAD([](const V& v) { return embedding(v[0], Indices({1}, {0})); }, {rnd({1, 7}, 111)});
  Variable w(Tensor::zeros({4, 3}, DType::f64), true);
  Variable y = embedding(w, Indices({4}, {1, 1, 2, 1}));
  backward({y}, {Tensor::ones({4, 3}, DType::f64)});
  CHECK(w.grad().to_vector() == std::vector<double>{0, 0, 0, 3, 3, 3, 1, 1, 1, 0, 0, 0});
  CHECK_THROWS_WITH(embedding(w, Indices({2}, {0, 9})), HasSubstr("id 9") && HasSubstr("V = 4"));
}

TEST_CASE("gradcheck cumsum and masked_fill", "[autograd][gradcheck]") {
  for (int64_t dim : {0, 1, -1})
    CHECK_GRAD([=](const V& v) { return cumsum(v[0], dim); }, {rnd({3, 5, 7}, 120 + dim)});
  CHECK_GRAD([](const V& v) { return cumsum(v[0], 0); }, {rnd({1}, 124)});
  Tensor mask = Tensor::from_vector({1, 0, 0, 1, 0}, {5});
  CHECK_GRAD([&](const V& v) { return masked_fill(v[0], mask, 2.5) * v[0]; }, {rnd({3, 5}, 125)});
  Tensor col = Tensor::from_vector({0, 1, 0}, {3, 1});
  CHECK_GRAD([&](const V& v) { return masked_fill(v[0], col, -1.0); }, {rnd({7, 3, 5}, 126)});
}
