// f64 finite-difference checks of the core differentiable ops, on tiny odd shapes with random
// upstream gradients (gradcheck draws them).
#include "tests/catch.h"

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "core/functional.h"

using namespace fwp;
using V = std::vector<Variable>;

namespace {
Tensor rnd(const Shape& s, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Rng rng(seed);
  return Tensor::uniform(s, rng, lo, hi, DType::f64);
}
#define CHECK_GRAD(f, ...)                         \
  do {                                             \
    auto r_ = gradcheck(f, __VA_ARGS__);           \
    INFO(r_.message);                              \
    CHECK(r_.ok);                                  \
  } while (0)
}  // namespace

TEST_CASE("gradcheck detects a wrong gradient", "[autograd][gradcheck]") {
  // A deliberately wrong op: forward x^2, backward claims 3x. gradcheck must fail.
  struct WrongSquare : Op {
    Tensor x;
    const char* name() const override { return "wrong_square"; }
    std::vector<Tensor> backward(const std::vector<Tensor>& g, const std::vector<bool>&) override {
      return {mul(mul(g[0], x), 3.0)};
    }
  };
  auto f = [](const V& v) {
    auto op = std::make_shared<WrongSquare>();
    op->x = v[0].value();
    return record(op, {v[0]}, mul(v[0].value(), v[0].value()));
  };
  auto r = gradcheck(f, {rnd({3}, 1)});
  CHECK_FALSE(r.ok);
  CHECK(r.worst_ratio > 1.0);
}

TEST_CASE("gradcheck add sub mul div with broadcasting", "[autograd][gradcheck]") {
  std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 5}, {3, 5}}, {{3, 5}, {5}}, {{7, 1, 5}, {3, 1}}, {{1}, {3, 5}}, {{5}, {7, 3, 5}}};
  for (auto& [sa, sb] : shapes) {
    CHECK_GRAD([](const V& v) { return v[0] + v[1]; }, {rnd(sa, 1), rnd(sb, 2)});
    CHECK_GRAD([](const V& v) { return v[0] - v[1]; }, {rnd(sa, 3), rnd(sb, 4)});
    CHECK_GRAD([](const V& v) { return v[0] * v[1]; }, {rnd(sa, 5), rnd(sb, 6)});
    CHECK_GRAD([](const V& v) { return v[0] / v[1]; }, {rnd(sa, 7), rnd(sb, 8, 0.5, 2.0)});
  }
  CHECK_GRAD([](const V& v) { return 2.0 - v[0] * 3.0 + 1.5; }, {rnd({3, 7}, 9)});
  CHECK_GRAD([](const V& v) { return -v[0] / 4.0; }, {rnd({5}, 10)});
}

TEST_CASE("gradcheck matmul in every layout and batching", "[autograd][gradcheck]") {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      auto f = [=](const V& v) { return matmul(v[0], v[1], ta, tb); };
      Shape a2 = ta ? Shape{7, 3} : Shape{3, 7}, b2 = tb ? Shape{5, 7} : Shape{7, 5};
      Shape a3 = ta ? Shape{2, 7, 3} : Shape{2, 3, 7}, b3 = tb ? Shape{2, 5, 7} : Shape{2, 7, 5};
      CHECK_GRAD(f, {rnd(a2, 1), rnd(b2, 2)});
      CHECK_GRAD(f, {rnd(a3, 3), rnd(b3, 4)});
      CHECK_GRAD(f, {rnd(a3, 5), rnd(b2, 6)});  // shared right operand
      CHECK_GRAD(f, {rnd(a2, 7), rnd(b3, 8)});  // shared left operand
    }
  CHECK_GRAD([](const V& v) { return matmul(v[0], v[1]); }, {rnd({1, 1}, 9), rnd({1, 1}, 10)});
}

TEST_CASE("gradcheck shape ops", "[autograd][gradcheck]") {
  CHECK_GRAD([](const V& v) { return reshape(v[0], {5, 3}) * v[1]; }, {rnd({3, 5}, 1), rnd({5, 3}, 2)});
  CHECK_GRAD([](const V& v) { return permute(v[0], {2, 0, 1}); }, {rnd({3, 5, 7}, 3)});
  CHECK_GRAD([](const V& v) { return transpose(v[0], -1, 0); }, {rnd({3, 1, 5}, 4)});
  CHECK_GRAD([](const V& v) { return concat({v[0], v[1], v[0]}, 1); }, {rnd({3, 1, 5}, 5), rnd({3, 7, 5}, 6)});
  CHECK_GRAD([](const V& v) { return stack({v[0], v[1]}, 1); }, {rnd({3, 5}, 7), rnd({3, 5}, 8)});
  CHECK_GRAD([](const V& v) { return slice(v[0], 1, 2, 5); }, {rnd({3, 7, 1}, 9)});
  auto f_split = [](const V& v) {
    auto p = split(v[0], {1, 3, 3}, -1);
    return p[0] * p[2] + p[1];
  };
  CHECK_GRAD(f_split, {rnd({5, 7}, 10)});
}

TEST_CASE("gradcheck sum and mean over dims", "[autograd][gradcheck]") {
  CHECK_GRAD([](const V& v) { return sum(v[0]); }, {rnd({3, 5}, 1)});
  CHECK_GRAD([](const V& v) { return sum(v[0], {1}); }, {rnd({3, 5, 7}, 2)});
  CHECK_GRAD([](const V& v) { return sum(v[0], {0, 2}, true); }, {rnd({3, 5, 7}, 3)});
  CHECK_GRAD([](const V& v) { return mean(v[0], {-1}); }, {rnd({3, 5}, 4)});
  CHECK_GRAD([](const V& v) { return mean(v[0]); }, {rnd({1, 7}, 5)});
}
