// Tensor-level nonlinearities, softmax family, cross-entropy and nn ops: values worked out by
// hand or composed from simpler ops, numerical edge cases (large inputs, -inf masks, ignored
// rows), dropout statistics, and the error messages.
#include <cmath>
#include <limits>

#include "tests/catch.h"

#include "core/functional.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::HasSubstr;

namespace {
const double kInf = std::numeric_limits<double>::infinity();

int64_t count_nonfinite(const Tensor& t) {
  int64_t n = 0;
  for (double v : t.to_vector()) n += !std::isfinite(v);
  return n;
}
}  // namespace

TEST_CASE("pointwise ops give the textbook values", "[core][unary]") {
  Tensor x = Tensor::from_vector({-2.0, -0.5, 0.0, 0.5, 3.0}, {5}, DType::f64);
  std::vector<double> ex, th, sg, rl, el, sq;
  for (double v : x.to_vector()) {
    ex.push_back(std::exp(v));
    th.push_back(std::tanh(v));
    sg.push_back(1.0 / (1.0 + std::exp(-v)));
    rl.push_back(v > 0 ? v : 0.0);
    el.push_back(v > 0 ? v : 0.7 * (std::exp(v) - 1.0));
    sq.push_back(v * v);
  }
  auto t = [](const std::vector<double>& v) { return Tensor::from_vector(v, {5}, DType::f64); };
  CHECK_THAT(exp(x), AllClose(t(ex), 0, 1e-15));
  CHECK_THAT(tanh(x), AllClose(t(th), 0, 1e-15));
  CHECK_THAT(sigmoid(x), AllClose(t(sg), 1e-16, 1e-15));
  CHECK_THAT(relu(x), AllClose(t(rl), 0, 0));
  CHECK_THAT(elu(x, 0.7), AllClose(t(el), 1e-16, 1e-14));
  CHECK_THAT(square(x), AllClose(t(sq), 0, 0));
  Tensor p = Tensor::from_vector({0.25, 1.0, 4.0}, {3}, DType::f64);
  CHECK(log(p).to_vector() == std::vector<double>{std::log(0.25), 0.0, std::log(4.0)});
  CHECK(sqrt(p).to_vector() == std::vector<double>{0.5, 1.0, 2.0});
  // f32 sigmoid saturates without NaN: exp(-x) overflows to inf and 1 / inf = 0
  Tensor big = Tensor::from_vector({-200.0, 200.0}, {2});
  CHECK(sigmoid(big).to_vector() == std::vector<double>{0.0, 1.0});
  CHECK_THROWS_WITH(relu_backward(Tensor::zeros({3}), Tensor::zeros({4})),
                    HasSubstr("relu_backward") && HasSubstr("(4)") && HasSubstr("(3)"));
}

TEST_CASE("softmax of large inputs does not overflow", "[core][softmax]") {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = Tensor::from_vector({1000.0, 999.0, 998.0, -1000.0}, {1, 4}, dt);
    Tensor small = Tensor::from_vector({2.0, 1.0, 0.0, -1998.0}, {1, 4}, DType::f64);
    CHECK_THAT(softmax(x), AllClose(softmax(small), 1e-7, 1e-6));
    CHECK_THAT(log_softmax(x), AllClose(log_softmax(small), 1e-4, 1e-6));
    CHECK(count_nonfinite(softmax(x)) == 0);
    CHECK(std::abs(sum(softmax(x)).item() - 1.0) < 1e-6);
  }
}

TEST_CASE("softmax gives exact zeros at -inf and zeros for a fully masked row", "[core][softmax]") {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = Tensor::from_vector({0.5, -kInf, 1.5, -kInf, -kInf, -kInf}, {2, 3}, dt);
    Tensor y = softmax(x);
    const double e = std::exp(1.0);
    CHECK(y.at({0, 1}) == 0.0);
    CHECK(std::abs(y.at({0, 0}) - 1.0 / (1.0 + e)) < 1e-7);
    CHECK(y.at({1, 0}) == 0.0);  // the fully masked row: zeros by contract
    CHECK(y.at({1, 2}) == 0.0);
    Tensor ls = log_softmax(x);
    CHECK(ls.at({0, 1}) == -kInf);
    CHECK(ls.at({1, 1}) == -kInf);
    CHECK(std::abs(ls.at({0, 2}) - (1.5 - std::log(std::exp(0.5) + std::exp(1.5)))) < 1e-6);
    Tensor g = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, dt);
    Tensor dx = softmax_backward(g, y);
    CHECK(count_nonfinite(dx) == 0);
    CHECK(dx.at({0, 1}) == 0.0);
    CHECK(dx.at({1, 0}) == 0.0);
    CHECK(count_nonfinite(log_softmax_backward(g, ls)) == 0);
  }
}

TEST_CASE("a NaN in a row spreads over that row, even next to -inf", "[core][softmax]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dt : {DType::f32, DType::f64}) {
    // row 0 has a NaN among finite values, row 1 a NaN among -inf (not a masked row), row 2 is fine
    Tensor x = Tensor::from_vector({1, nan, 2, -kInf, nan, -kInf, 1, 2, 3}, {3, 3}, dt);
    for (const Tensor& y : {softmax(x), log_softmax(x)}) {
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 3; ++j) CHECK(std::isnan(y.at({i, j})));
      CHECK(count_nonfinite(y.narrow0(2, 1)) == 0);
    }
    CHECK(std::isnan(cross_entropy(x, Indices({3}, {0, 0, 1})).item()));
    CHECK(std::isnan(cross_entropy(x.narrow0(1, 1), Indices({1}, {0})).item()));
  }
}

TEST_CASE("softmax along a middle dim equals softmax of the transpose", "[core][softmax]") {
  Rng rng(1);
  Tensor x = Tensor::randn({3, 5, 7}, rng, DType::f64);
  Tensor y = softmax(x, 1);
  CHECK_THAT(y, AllClose(transpose(softmax(transpose(x, 1, 2), -1), 1, 2), 0, 0));
  CHECK_THAT(sum(y, {1}), AllClose(Tensor::ones({3, 7}, DType::f64), 1e-14, 0));
  Tensor g = Tensor::randn({3, 5, 7}, rng, DType::f64);
  CHECK_THAT(log_softmax_backward(g, log_softmax(x, 0), 0),
             AllClose(transpose(log_softmax_backward(transpose(g, 0, 2), transpose(log_softmax(x, 0), 0, 2)), 0, 2), 0, 0));
  CHECK_THROWS_WITH(softmax(x, 3), HasSubstr("softmax") && HasSubstr("3"));
}

TEST_CASE("cross_entropy equals minus log_softmax at the target, mean over counted rows",
          "[core][loss]") {
  Rng rng(2);
  const int64_t N = 7, V = 5;
  Tensor logits = Tensor::randn({N, V}, rng, DType::f64, 0.0, 2.0);
  Indices targets({N}, {0, 4, 2, -100, 1, -100, 3});
  Tensor ls = log_softmax(logits);
  double total = 0.0;
  int64_t count = 0;
  for (int64_t n = 0; n < N; ++n)
    if (targets.values[n] != -100) {
      total -= ls.at({n, targets.values[n]});
      ++count;
    }
  Tensor lse;
  Tensor loss = cross_entropy(logits, targets, -100, &lse);
  CHECK(loss.shape() == Shape{});
  CHECK(count == 5);
  CHECK(std::abs(loss.item() - total / count) < 1e-14);
  // ignored rows contribute nothing: changing their logits changes neither loss nor gradient
  Tensor other = logits.clone();
  other.data<double>()[3 * V + 1] = 50.0;
  CHECK(cross_entropy(other, targets).item() == loss.item());
  Tensor d = cross_entropy_backward(Tensor::scalar(2.0, DType::f64), logits, lse, targets);
  for (int64_t v = 0; v < V; ++v) CHECK(d.at({3, v}) == 0.0);
  // counted rows: 2/count * (softmax - onehot)
  Tensor p = softmax(logits);
  CHECK(std::abs(d.at({1, 4}) - 2.0 / count * (p.at({1, 4}) - 1.0)) < 1e-15);
  CHECK(std::abs(d.at({1, 0}) - 2.0 / count * p.at({1, 0})) < 1e-15);
  // a custom ignore_index, and every row ignored: loss 0, gradient 0 (no 0/0)
  Indices all_ignored({N}, std::vector<int64_t>(N, 7));
  CHECK(cross_entropy(logits, all_ignored, 7, &lse).item() == 0.0);
  CHECK(count_nonfinite(cross_entropy_backward(Tensor::scalar(1.0, DType::f64), logits, lse,
                                               all_ignored, 7)) == 0);
}

TEST_CASE("cross_entropy takes (B, T, V) logits with (B, T) targets and large logits",
          "[core][loss]") {
  Tensor logits = Tensor::full({2, 3, 4}, 0.0);
  logits.data<float>()[0] = 1e4f;  // row 0 strongly predicts class 0
  Indices t({2, 3}, {0, 1, 2, 3, 0, 1});
  Tensor loss = cross_entropy(logits, t);
  // row 0 contributes 0, the five uniform rows log 4 each
  CHECK(std::abs(loss.item() - 5.0 * std::log(4.0) / 6.0) < 1e-6);
  Indices t2({2, 3}, {1, 1, 2, 3, 0, 1});  // row 0 now misses by 1e4
  CHECK(std::abs(cross_entropy(logits, t2).item() - (1e4 + 5.0 * std::log(4.0)) / 6.0) < 1e-2);
}

TEST_CASE("cross_entropy errors name the target, V and the shapes", "[core][loss]") {
  Tensor logits = Tensor::zeros({3, 10});
  CHECK_THROWS_WITH(cross_entropy(logits, Indices({3}, {1, 12, 2})),
                    HasSubstr("cross_entropy: target 12 at row 1") && HasSubstr("V = 10"));
  CHECK_THROWS_WITH(cross_entropy(logits, Indices({3}, {1, -1, 2})), HasSubstr("target -1"));
  CHECK_THROWS_WITH(cross_entropy(logits, Indices({4}, {1, 1, 2, 0})),
                    HasSubstr("targets must have shape (3)") && HasSubstr("(3, 10)") &&
                        HasSubstr("targets=(4)"));
}

TEST_CASE("layer_norm normalises rows and checks the parameter shapes", "[core][layernorm]") {
  Rng rng(3);
  Tensor x = Tensor::randn({4, 6}, rng, DType::f64, 3.0, 2.0);
  Tensor mu, rstd;
  Tensor y = layer_norm(x, Tensor(), Tensor(), 0.0, &mu, &rstd);
  CHECK_THAT(mean(y, {1}), AllClose(Tensor::zeros({4}, DType::f64), 1e-14, 0));
  CHECK_THAT(mean(mul(y, y), {1}), AllClose(Tensor::ones({4}, DType::f64), 1e-12, 0));
  CHECK_THAT(mu, AllClose(mean(x, {1}), 1e-14, 1e-14));
  Tensor w = Tensor::randn({6}, rng, DType::f64), b = Tensor::randn({6}, rng, DType::f64);
  CHECK_THAT(layer_norm(x, w, b, 0.0), AllClose(add(mul(y, w), b), 1e-14, 1e-14));
  CHECK_THROWS_WITH(layer_norm(x, Tensor::ones({5}, DType::f64), Tensor()),
                    HasSubstr("layer_norm: weight must have shape (6)") &&
                        HasSubstr("x=(4, 6)") && HasSubstr("weight=(5)"));
  CHECK_THROWS_WITH(layer_norm(x, Tensor(), Tensor::ones({2, 3}, DType::f64)),
                    HasSubstr("bias=(2, 3)"));
  CHECK_THROWS_WITH(layer_norm(x, Tensor::ones({6}), Tensor()), HasSubstr("dtypes must match"));
}

TEST_CASE("dropout: same seed same mask, p fraction, 1/(1-p) scale", "[core][dropout]") {
  const int64_t n = 100000;
  const double p = 0.3;
  Tensor x = Tensor::ones({n});
  Tensor a = dropout(x, p, 42), b = dropout(x, p, 42), c = dropout(x, p, 43);
  CHECK_THAT(a, AllClose(b, 0, 0));
  int64_t dropped = 0, wrong_scale = 0, differ = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = a.data<float>()[i];
    dropped += v == 0.0f;
    wrong_scale += v != 0.0f && v != static_cast<float>(1.0 / (1.0 - p));
    differ += (v == 0.0f) != (c.data<float>()[i] == 0.0f);
  }
  CHECK(wrong_scale == 0);
  // binomial: mean 0.3, standard deviation 0.00145; 0.01 is about 7 sigma
  CHECK(std::abs(double(dropped) / n - p) < 0.01);
  CHECK(differ > n / 4);  // another seed gives another mask (expected 2 p (1 - p) = 42%)
  CHECK(sum(dropout(x, 0.0, 5)).item() == double(n));
  CHECK(sum(dropout(x, 1.0, 5)).item() == 0.0);
  CHECK_THROWS_WITH(dropout(x, 1.5, 5), HasSubstr("dropout: p must be in [0, 1], got p=1.5"));
}

TEST_CASE("embedding gathers rows and scatter-adds repeated ids", "[core][embedding]") {
  Tensor w = Tensor::arange(12, DType::f64).reshape({4, 3});
  Indices ids({2, 2}, {3, 1, 1, 0});
  Tensor y = embedding(w, ids);
  CHECK(y.shape() == Shape{2, 2, 3});
  CHECK(y.to_vector() == std::vector<double>{9, 10, 11, 3, 4, 5, 3, 4, 5, 0, 1, 2});
  Tensor g = Tensor::arange(12, DType::f64).reshape({2, 2, 3});
  Tensor dw = embedding_backward(g, ids, 4);
  // row 1 receives g rows 1 and 2; row 2 nothing
  CHECK(dw.to_vector() == std::vector<double>{9, 10, 11, 3 + 6, 4 + 7, 5 + 8, 0, 0, 0, 0, 1, 2});
  CHECK_THROWS_WITH(embedding(w, Indices({2}, {1, 4})),
                    HasSubstr("embedding: id 4 at flat index 1") && HasSubstr("V = 4") &&
                        HasSubstr("(4, 3)"));
  CHECK_THROWS_WITH(embedding(Tensor::zeros({4}), ids), HasSubstr("weight must be 2-D"));
}

TEST_CASE("cumsum along each dim and its reverse backward", "[core][cumsum]") {
  Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, DType::f64);
  CHECK(cumsum(a, 1).to_vector() == std::vector<double>{1, 3, 6, 4, 9, 15});
  CHECK(cumsum(a, 0).to_vector() == std::vector<double>{1, 2, 3, 5, 7, 9});
  CHECK(cumsum_backward(a, -1).to_vector() == std::vector<double>{6, 5, 3, 15, 11, 6});
  CHECK_THROWS_WITH(cumsum(a, 2), HasSubstr("cumsum"));
}

TEST_CASE("masked_fill with a broadcast causal mask and -inf", "[core][masked_fill]") {
  Tensor a = Tensor::ones({2, 3, 3}, DType::f64);
  Tensor causal = Tensor::from_vector({0, 1, 1, 0, 0, 1, 0, 0, 0}, {3, 3});  // f32 mask, f64 a
  Tensor y = masked_fill(a, causal, -kInf);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 3; ++j) CHECK(y.at({b, i, j}) == (j > i ? -kInf : 1.0));
  CHECK_THAT(softmax(y).reshape({6, 3}).narrow0(2, 1).reshape({3}),
             AllClose(Tensor::full({3}, 1.0 / 3.0, DType::f64), 1e-15, 0));
  CHECK_THROWS_WITH(masked_fill(a, Tensor::zeros({2, 3}), 0.0),
                    HasSubstr("masked_fill: mask=(2, 3) must broadcast") && HasSubstr("a=(2, 3, 3)"));
}
