// The fused FWM-rule op (autograd/fwm_rule_op.h): f64 finite differences with the clamp active on
// some steps and not on others, values and every gradient against the composed reference (with
// and without W0, read-out, clamp at the first step), and argument errors.
#include "tests/catch.h"

#include <cmath>

#include "autograd/functions.h"
#include "autograd/fwm_rule_op.h"
#include "autograd/gradcheck.h"
#include "core/functional.h"
#include "tests/fused_vs_reference.h"
#include "tests/fwm_inputs.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::HasSubstr;
using fwp_test::mixed_rows;
using V = std::vector<Variable>;

namespace {

struct Inputs {
  Tensor q, k, v, beta, W0;
};

// Keys of length ~1.5 and ~0.8, values of ~2 and ~0.02: the clamp acts on some steps only.
Inputs make_inputs(int64_t B, int64_t H, int64_t T, int64_t Dk, int64_t Dv, DType dt,
                   uint64_t seed) {
  Rng rng(seed);
  Inputs in;
  in.q = mixed_rows({B, H, T, Dk}, 1.0, 1.0, rng, dt);
  in.k = mixed_rows({B, H, T, Dk}, 1.5, 0.8, rng, dt);
  in.v = mixed_rows({B, H, T, Dv}, 2.0, 0.02, rng, dt);
  in.beta = Tensor::uniform({B, H, T}, rng, 0.1, 0.9, dt);
  in.W0 = Tensor::randn({B, H, Dv, Dk}, rng, dt, 0.0, 0.3 / std::sqrt(double(Dk * Dv)));
  return in;
}

// |Wtilde_t|_F of every clamped step of every sequence, by plain loops in f64.
std::vector<double> clamped_norms(const Inputs& in, bool with_W0, bool clamp_first) {
  const Shape& s = in.k.shape();
  const int64_t BH = s[0] * s[1], T = s[2], Dk = s[3], Dv = in.v.size(3);
  auto k = in.k.to_vector(), v = in.v.to_vector(), beta = in.beta.to_vector();
  auto W0 = in.W0.to_vector();
  std::vector<double> norms;
  for (int64_t n = 0; n < BH; ++n) {
    std::vector<double> W(Dv * Dk, 0.0);
    if (with_W0) std::copy(W0.begin() + n * Dv * Dk, W0.begin() + (n + 1) * Dv * Dk, W.begin());
    for (int64_t t = 0; t < T; ++t) {
      const double* kt = &k[(n * T + t) * Dk];
      std::vector<double> u(Dv);
      for (int64_t i = 0; i < Dv; ++i) {
        double vbar = 0;
        for (int64_t j = 0; j < Dk; ++j) vbar += W[i * Dk + j] * kt[j];
        u[i] = beta[n * T + t] * (v[(n * T + t) * Dv + i] - vbar);
      }
      double sq = 0;
      for (int64_t i = 0; i < Dv; ++i)
        for (int64_t j = 0; j < Dk; ++j) sq += std::pow(W[i * Dk + j] += u[i] * kt[j], 2);
      if (t == 0 && !clamp_first) continue;
      norms.push_back(std::sqrt(sq));
      if (norms.back() > 1.0)
        for (double& w : W) w /= norms.back();
    }
  }
  return norms;
}

// Leaves for the defined inputs (q, k, v, beta, W0 in this order, q and W0 optional) and the
// rule applied to them.
struct Setup {
  bool with_q = true, with_W0 = true, clamp_first = true;
  std::vector<Tensor> tensors(const Inputs& in) const {
    std::vector<Tensor> t;
    if (with_q) t.push_back(in.q);
    for (const Tensor& x : {in.k, in.v, in.beta}) t.push_back(x);
    if (with_W0) t.push_back(in.W0);
    return t;
  }
  V apply(const V& x, bool fused) const {
    const size_t o = with_q ? 1 : 0;
    Variable q = with_q ? x[0] : Variable(), W0 = with_W0 ? x[o + 3] : Variable();
    auto f = fused ? fwm_rule : fwm_rule_reference;
    FwmRuleResult r = f(q, x[o], x[o + 1], x[o + 2], W0, clamp_first);
    return with_q ? V{r.y, r.state} : V{r.state};
  }
};

// Outputs and then input gradients under random upstream gradients.
std::vector<Tensor> run(const Setup& s, const Inputs& in, bool fused) {
  return fwp_test::outputs_and_grads([&](const V& x) { return s.apply(x, fused); },
                                     s.tensors(in), 99);
}

}  // namespace

TEST_CASE("fwm_rule passes f64 gradcheck with the clamp on some steps and off on others",
          "[autograd][fwm_rule][gradcheck]") {
  for (bool clamp_first : {true, false})
    for (bool with_q : {true, false}) {
      Inputs in = make_inputs(1, 2, 7, 3, 5, DType::f64, 5);
      Setup s{with_q, true, clamp_first};
      // both branches occur, and no norm is so close to 1 that a finite difference crosses it
      std::vector<double> norms = clamped_norms(in, true, clamp_first);
      int above = 0, below = 0;
      for (double n : norms) {
        above += n > 1.0;
        below += n < 1.0;
        CHECK(std::abs(n - 1.0) > 1e-3);
      }
      INFO("clamp_first=" << clamp_first << " q=" << with_q << ": " << above << " steps clamped, "
                          << below << " not");
      CHECK(above >= 3);
      CHECK(below >= 3);
      GradcheckResult r = gradcheck_multi([&](const V& x) { return s.apply(x, true); },
                                          s.tensors(in));
      INFO(r.message);
      CHECK(r.ok);
    }
  Inputs in = make_inputs(2, 1, 4, 5, 3, DType::f64, 6);  // zero initial state
  Setup s{true, false, false};
  GradcheckResult r = gradcheck_multi([&](const V& x) { return s.apply(x, true); }, s.tensors(in));
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("fwm_rule equals fwm_rule_reference, values and every gradient",
          "[autograd][fwm_rule]") {
  struct Dims {
    int64_t Dk, Dv;
  };
  for (int64_t T : {1, 7, 64})
    for (Dims d : {Dims{5, 3}, Dims{16, 16}, Dims{8, 40}})
      for (DType dt : {DType::f64, DType::f32})
        for (bool with_q : {true, false})
          for (bool with_W0 : {true, false}) {
            const bool clamp_first = T % 2 == 1 ? with_W0 : !with_W0;
            INFO("T=" << T << " Dk=" << d.Dk << " Dv=" << d.Dv << " dtype=" << dt << " q="
                      << with_q << " W0=" << with_W0 << " clamp_first=" << clamp_first);
            Inputs in = make_inputs(1, 2, T, d.Dk, d.Dv, dt, 7 + T + d.Dv);
            Setup s{with_q, with_W0, clamp_first};
            fwp_test::check_all_close(run(s, in, true), run(s, in, false),
                                      dt == DType::f64 ? 1e-10 : 1e-4);
          }
}

TEST_CASE("fwm_rule without q computes the state only", "[autograd][fwm_rule]") {
  Inputs in = make_inputs(2, 1, 9, 4, 6, DType::f64, 8);
  FwmRuleResult with_q = fwm_rule(Variable(in.q), Variable(in.k), Variable(in.v),
                                  Variable(in.beta));
  FwmRuleResult without = fwm_rule(Variable(), Variable(in.k), Variable(in.v), Variable(in.beta));
  CHECK_FALSE(without.y.defined());
  CHECK(without.state.value().to_vector() == with_q.state.value().to_vector());
  // a read-out whose y is unused gives the same gradients as none at all
  Rng rng(3);
  Tensor g = Tensor::randn(with_q.state.shape(), rng, DType::f64);
  std::vector<Tensor> grads[2];
  for (int read : {0, 1}) {
    V x;
    for (const Tensor& t : {in.q, in.k, in.v, in.beta}) x.emplace_back(t.clone(), true);
    FwmRuleResult r = fwm_rule(read ? x[0] : Variable(), x[1], x[2], x[3]);
    backward({r.state}, {g});
    for (size_t i = 1; i < x.size(); ++i) grads[read].push_back(x[i].grad());
    if (read) CHECK(x[0].grad().to_vector() == std::vector<double>(in.q.numel(), 0.0));
  }
  for (size_t i = 0; i < grads[0].size(); ++i)
    CHECK_THAT(grads[1][i], AllClose(grads[0][i], 0.0, 0.0));
}

TEST_CASE("fwm_rule names its arguments and shapes on errors", "[autograd][fwm_rule]") {
  auto z = [](const Shape& s) { return Variable(Tensor::zeros(s, DType::f64)); };
  Variable k = z({2, 1, 3, 4}), v = z({2, 1, 3, 5}), beta = z({2, 1, 3});
  CHECK_THROWS_WITH(fwm_rule(z({2, 1, 3, 5}), k, v, beta),
                    HasSubstr("fwm_rule: q must have the shape of k (B, H, T, Dk), got "
                              "q=(2, 1, 3, 5) and k=(2, 1, 3, 4)"));
  CHECK_THROWS_WITH(fwm_rule({}, z({2, 3, 4}), v, beta),
                    HasSubstr("fwm_rule: k must be 4-D (B, H, T, Dk), got k=(2, 3, 4)"));
  CHECK_THROWS_WITH(fwm_rule({}, k, z({2, 1, 4, 5}), beta),
                    HasSubstr("v must be (B, H, T, Dv) with the B, H, T of k, got "
                              "k=(2, 1, 3, 4) and v=(2, 1, 4, 5)"));
  CHECK_THROWS_WITH(fwm_rule({}, k, v, z({2, 3})),
                    HasSubstr("beta must be (B, H, T) = (2, 1, 3), got beta=(2, 3)"));
  CHECK_THROWS_WITH(fwm_rule({}, k, v, beta, z({2, 1, 4, 5})),
                    HasSubstr("W0 must be (B, H, Dv, Dk) = (2, 1, 5, 4), got W0=(2, 1, 4, 5)"));
  CHECK_THROWS_WITH(fwm_rule_reference({}, k, v, z({2, 3})), HasSubstr("fwm_rule_reference"));
  CHECK_THROWS_WITH(fwm_rule({}, k, Variable(Tensor::zeros({2, 1, 3, 5}, DType::f32)), beta),
                    HasSubstr("v"));
}
