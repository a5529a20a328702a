// Module naming and the Linear layer.
#include "tests/catch.h"

#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "core/functional.h"
#include "layers/dropout.h"
#include "layers/linear.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::HasSubstr;

namespace {
struct Block : Module {
  std::shared_ptr<Linear> w1, w2;
  Block(Rng& rng) {
    w1 = register_module("w1", std::make_shared<Linear>(3, 5, rng));
    w2 = register_module("w2", std::make_shared<Linear>(5, 2, rng, LinearOptions{.bias = false}));
  }
};
struct Net : Module {
  std::vector<std::shared_ptr<Block>> blocks;
  Net(Rng& rng) {
    for (int i = 0; i < 2; ++i)
      blocks.push_back(register_module(std::to_string(i), std::make_shared<Block>(rng)));
  }
};
}  // namespace

TEST_CASE("module names parameters by dotted path", "[layers][module]") {
  Rng rng(1);
  Net net(rng);
  auto named = net.named_parameters();
  std::vector<std::string> names;
  for (auto& [n, v] : named) names.push_back(n);
  CHECK(names == std::vector<std::string>{"0.w1.weight", "0.w1.bias", "0.w2.weight",
                                          "1.w1.weight", "1.w1.bias", "1.w2.weight"});
  CHECK(net.num_parameters() == 2 * (15 + 5 + 10));
  net.eval();
  CHECK_FALSE(net.blocks[1]->w1->training());
}

TEST_CASE("module lists its random generators by dotted path", "[layers][module]") {
  struct WithRng : Module {
    Rng rng{7};
    std::shared_ptr<Dropout> drop;
    WithRng() {
      register_rng("rng", &rng);
      drop = register_module("drop", std::make_shared<Dropout>(0.5, 3));
    }
    void add(const std::string& name, Rng* r) { register_rng(name, r); }
  };
  WithRng m;
  auto rngs = m.named_rngs();
  REQUIRE(rngs.size() == 2);
  CHECK(rngs[0].first == "rng");
  CHECK(rngs[0].second == &m.rng);
  CHECK(rngs[1].first == "drop.rng");
  CHECK(rngs[1].second == &m.drop->rng());
  Rng tmp;
  CHECK_THROWS_WITH(m.add("rng", &tmp), HasSubstr("duplicate name 'rng'"));
}

TEST_CASE("linear computes x W^T + b over leading dims", "[layers][linear]") {
  Rng rng(2);
  Linear lin(3, 2, rng, {.dtype = DType::f64});
  Variable x(Tensor::randn({4, 5, 3}, rng, DType::f64));
  Tensor y = lin.forward(x).value();
  REQUIRE(y.shape() == Shape{4, 5, 2});
  for (int64_t o = 0; o < 2; ++o) {
    double ref = lin.bias.value().at({o});
    for (int64_t i = 0; i < 3; ++i) ref += x.value().at({3, 4, i}) * lin.weight.value().at({o, i});
    CHECK_THAT(y.at({3, 4, o}), Catch::Matchers::WithinRel(ref, 1e-12));
  }
  auto r = gradcheck([&](const std::vector<Variable>& v) { return lin.forward(v[0]); },
                     {x.value()});
  INFO(r.message);
  CHECK(r.ok);
  CHECK_THROWS_WITH(lin.forward(Variable(Tensor::zeros({4, 2}, DType::f64))),
                    HasSubstr("Linear") && HasSubstr("(4, 2)"));
}
