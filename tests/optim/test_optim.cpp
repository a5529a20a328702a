// Optimizers, clipping and the schedule against hand-computed and PyTorch-computed values,
// and the fused optimizer kernels against their naive twins.
#include "tests/catch.h"

#include <cmath>
#include <numbers>

#include "autograd/functions.h"
#include "kernels/cpu/optim.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::HasSubstr;

namespace {

const std::vector<double> kP0 = {0.5, -1.0, 2.0};
const std::vector<std::vector<double>> kGrads = {{0.1, -0.2, 0.3}, {-0.4, 0.5, 0.6}, {0.7, 0.0, -0.9}};

// Runs three steps with the fixed gradients above; returns the parameter after each step.
template <typename Opt, typename Options>
std::vector<Tensor> three_steps(Options options) {
  Variable p(Tensor::from_vector(kP0, {3}, DType::f64), true);
  Opt opt({p}, options);
  std::vector<Tensor> out;
  for (const auto& g : kGrads) {
    p.impl()->grad = Tensor::from_vector(g, {3}, DType::f64);
    opt.step();
    out.push_back(p.value().clone());
  }
  return out;
}

Tensor vec(std::vector<double> v) { return Tensor::from_vector(v, {int64_t(v.size())}, DType::f64); }

}  // namespace

// Expected values: torch 1.13 (Debian), torch.float64, same hyper-parameters and gradients:
//   torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01), then p.grad = g; opt.step()
TEST_CASE("sgd with momentum and weight decay matches hand and torch values", "[optim][sgd]") {
  auto steps = three_steps<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01});
  // by hand, step 1, element 0: g = 0.1 + 0.01 * 0.5 = 0.105; buf = g; p = 0.5 - 0.1 * 0.105
  CHECK_THAT(steps[0].at({0}), Catch::Matchers::WithinAbs(0.4895, 1e-15));
  CHECK_THAT(steps[0], AllClose(vec({0.48949999999999999, -0.97899999999999998, 1.968}), 1e-14, 0));
  CHECK_THAT(steps[1], AllClose(vec({0.51956049999999998, -1.0091209999999999, 1.877232}), 1e-14, 0));
  CHECK_THAT(steps[2], AllClose(vec({0.47609538949999997, -1.0352207789999999, 1.883663568}), 1e-14, 0));
}

// torch.optim.Adam([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
TEST_CASE("adam with L2 weight decay matches hand and torch values", "[optim][adam]") {
  auto steps = three_steps<Adam>(AdamOptions{.lr = 0.01, .weight_decay = 0.1});
  // by hand, step 1: bias correction makes m_hat = g, v_hat = g^2, so p -= lr g / (|g| + eps);
  // element 0: g = 0.1 + 0.1 * 0.5 = 0.15, p = 0.5 - 0.01 * 0.15 / (0.15 + 1e-8)
  CHECK_THAT(steps[0].at({0}), Catch::Matchers::WithinAbs(0.5 - 0.01 * 0.15 / (0.15 + 1e-8), 1e-15));
  CHECK_THAT(steps[0], AllClose(vec({0.4900000006666666, -0.99000000033333335, 1.9900000002}), 1e-14, 0));
  CHECK_THAT(steps[1], AllClose(vec({0.49421122910693693, -0.99194687226931688, 1.9801378452113545}), 1e-14, 0));
  CHECK_THAT(steps[2], AllClose(vec({0.48999500850689248, -0.99218108048873954, 1.9778424542631863}), 1e-14, 0));
}

// torch.optim.AdamW([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
TEST_CASE("adamw decouples weight decay and matches torch values", "[optim][adam]") {
  auto steps = three_steps<AdamW>(AdamOptions{.lr = 0.01, .weight_decay = 0.1});
  // by hand, step 1, element 0: p = 0.5 (1 - 0.01 * 0.1) = 0.4995, then p -= 0.01 * 0.1 / (0.1 + 1e-8)
  CHECK_THAT(steps[0].at({0}), Catch::Matchers::WithinAbs(0.4995 - 0.01 * 0.1 / (0.1 + 1e-8), 1e-15));
  CHECK_THAT(steps[0], AllClose(vec({0.48950000099999991, -0.98900000049999992, 1.9880000003333334}), 1e-14, 0));
  CHECK_THAT(steps[1], AllClose(vec({0.49460553574751281, -0.99243315302122326, 1.97636018027823}), 1e-14, 0));
  CHECK_THAT(steps[2], AllClose(vec({0.49080004976795, -0.99485905656407181, 1.9750498102434686}), 1e-14, 0));
}

TEST_CASE("optimizer skips parameters without a gradient and records nothing", "[optim][adam]") {
  Variable a(Tensor::from_vector({1.0, 2.0}, {2}), true), b(Tensor::from_vector({3.0}, {1}), true);
  Adam opt({a, b}, {.lr = 0.1});
  Variable loss = sum(a * a);
  backward(loss);
  const size_t tape_before = active_tape().size();
  opt.step();
  CHECK(active_tape().size() == tape_before);
  CHECK(opt.step_count() == 1);
  CHECK(b.value().item() == 3.0);                       // no gradient: untouched
  CHECK(opt.state("m", 1).to_vector() == std::vector<double>{0.0});
  CHECK_THAT(a.value(), AllClose(Tensor::from_vector({0.9, 1.9}, {2}), 1e-6, 0));  // lr sign(g)
  opt.zero_grad();
  CHECK_FALSE(a.has_grad());
}

TEST_CASE("optimizer rejects bad arguments with named messages", "[optim][errors]") {
  Variable a(Tensor::zeros({2}), true);
  CHECK_THROWS_WITH(Adam({a}, {.beta1 = 1.0}), HasSubstr("adam: betas") && HasSubstr("beta1=1"));
  CHECK_THROWS_WITH(SGD({a, a}), HasSubstr("same variable"));
  CHECK_THROWS_WITH(SGD({a}, {.lr = -1.0}), HasSubstr("lr must be"));
  Adam opt({a});
  CHECK_THROWS_WITH(opt.set_hyperparameter("gamma", 1.0), HasSubstr("no hyper-parameter named 'gamma'"));
  CHECK_THROWS_WITH(opt.state("momentum", 0), HasSubstr("no state named 'momentum'"));
  Variable y = a * 2.0;
  CHECK_THROWS_WITH(SGD({y}), HasSubstr("not a leaf"));
}

TEST_CASE("clip_grad_norm_ scales to max_norm and returns the norm before", "[optim][clip]") {
  Variable a(Tensor::zeros({2}, DType::f64), true), b(Tensor::zeros({1, 1}, DType::f64), true);
  Variable c(Tensor::zeros({3}, DType::f64), true);  // no gradient: ignored
  a.impl()->grad = Tensor::from_vector({3.0, 4.0}, {2}, DType::f64);
  b.impl()->grad = Tensor::from_vector({12.0}, {1, 1}, DType::f64);
  // norm = sqrt(9 + 16 + 144) = 13; scale = 6.5 / (13 + 1e-6)
  double norm = clip_grad_norm_({a, b, c}, 6.5);
  CHECK(norm == 13.0);
  const double s = 6.5 / (13.0 + 1e-6);
  CHECK_THAT(a.grad(), AllClose(Tensor::from_vector({3.0 * s, 4.0 * s}, {2}, DType::f64), 1e-15, 0));
  CHECK_THAT(b.grad(), AllClose(Tensor::from_vector({12.0 * s}, {1, 1}, DType::f64), 1e-15, 0));
  // below the threshold nothing changes
  double norm2 = clip_grad_norm_({a, b, c}, 100.0);
  CHECK_THAT(norm2, Catch::Matchers::WithinRel(6.5, 1e-6));
  CHECK(a.grad().at({0}) == 3.0 * s);
  CHECK_THROWS_WITH(clip_grad_norm_({a}, 0.0), HasSubstr("max_norm must be > 0"));
}

TEST_CASE("warm-up cosine schedule hits its key values", "[optim][schedule]") {
  // warm-up 10 steps, 110 in total, base 2
  CHECK(warmup_cosine_lr(0, 2.0, 10, 110) == 2.0 * 1 / 10);
  CHECK(warmup_cosine_lr(4, 2.0, 10, 110) == 2.0 * 5 / 10);
  CHECK(warmup_cosine_lr(9, 2.0, 10, 110) == 2.0);
  CHECK(warmup_cosine_lr(10, 2.0, 10, 110) == 2.0);  // cosine starts at the top
  CHECK_THAT(warmup_cosine_lr(35, 2.0, 10, 110),
             Catch::Matchers::WithinRel(1.0 + std::cos(std::numbers::pi / 4), 1e-14));
  CHECK_THAT(warmup_cosine_lr(60, 2.0, 10, 110), Catch::Matchers::WithinRel(1.0, 1e-14));  // half way
  CHECK(warmup_cosine_lr(109, 2.0, 10, 110) > 0.0);
  CHECK(warmup_cosine_lr(109, 2.0, 10, 110) < 1e-3);
  CHECK(warmup_cosine_lr(110, 2.0, 10, 110) == 0.0);
  CHECK(warmup_cosine_lr(500, 2.0, 10, 110) == 0.0);
  CHECK(warmup_cosine_lr(0, 2.0, 0, 100) == 2.0);  // no warm-up
  CHECK_THROWS_WITH(warmup_cosine_lr(0, 1.0, 20, 10), HasSubstr("warmup_steps=20"));
}

TEMPLATE_TEST_CASE("optimizer kernels equal their naive twins", "[kernels][optim]", float, double) {
  Rng rng(11);
  const DType dt = dtype_of<TestType>();
  const double tol = dt == DType::f32 ? 1e-6 : 1e-14;
  for (int64_t n : {1, 7, 100003}) {  // the last is large enough for threads
    Tensor g = Tensor::randn({n}, rng, dt);
    Tensor p0 = Tensor::randn({n}, rng, dt), m0 = Tensor::randn({n}, rng, dt, 0.0, 0.1);
    Tensor v0 = Tensor::uniform({n}, rng, 0.0, 0.5, dt);
    for (bool decoupled : {false, true}) {
      kernels::AdamStepParams s{1e-2, 0.9, 0.99, 1e-8, 0.05, decoupled, 1 - std::pow(0.9, 3),
                                1 - std::pow(0.99, 3)};
      Tensor p = p0.clone(), m = m0.clone(), v = v0.clone();
      Tensor pr = p0.clone(), mr = m0.clone(), vr = v0.clone();
      kernels::adam_update<TestType>(p.data<TestType>(), m.data<TestType>(), v.data<TestType>(),
                                     g.data<TestType>(), n, s);
      kernels::adam_update_naive<TestType>(pr.data<TestType>(), mr.data<TestType>(),
                                           vr.data<TestType>(), g.data<TestType>(), n, s);
      CHECK_THAT(p, AllClose(pr, tol, tol));
      CHECK_THAT(m, AllClose(mr, tol, tol));
      CHECK_THAT(v, AllClose(vr, tol, tol));
      CHECK_FALSE(p.to_vector() == p0.to_vector());
    }
    for (double mu : {0.0, 0.9}) {
      Tensor p = p0.clone(), b = m0.clone(), pr = p0.clone(), br = m0.clone();
      kernels::sgd_update<TestType>(p.data<TestType>(), b.data<TestType>(), g.data<TestType>(), n,
                                    0.1, mu, 0.01);
      kernels::sgd_update_naive<TestType>(pr.data<TestType>(), br.data<TestType>(),
                                          g.data<TestType>(), n, 0.1, mu, 0.01);
      CHECK_THAT(p, AllClose(pr, tol, tol));
      CHECK_THAT(b, AllClose(br, tol, tol));
    }
    double fast = kernels::sum_squares<TestType>(g.data<TestType>(), n);
    double ref = kernels::sum_squares_naive<TestType>(g.data<TestType>(), n);
    CHECK_THAT(fast, Catch::Matchers::WithinRel(ref, 1e-12));
  }
}
