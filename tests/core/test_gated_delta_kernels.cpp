// The gated-delta-rule CPU kernels (kernels/gated_delta_rule.h) against their naive twins, on
// shapes that hit whole and partial vectors and row blocks, fixed and runtime vector counts,
// T = 0 and 1, several checkpoint intervals, with and without initial state and state gradient.
// Also: the checkpoint interval changes no bit of the gradients (the backward's re-run of a
// segment repeats the forward exactly), and the forward's outputs do not depend on it either.
#include "tests/catch.h"
#include "tests/simd_copies.h"

#include "core/tensor.h"
#include "kernels/gated_delta_rule.h"
#include "tests/fast_weight_inputs.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::simplex;

namespace {

struct Case {
  int64_t BH, T, Dk, Dv;
};
const std::vector<Case> kCases = {{3, 7, 5, 3},    {2, 9, 16, 16}, {2, 5, 64, 64}, {1, 6, 48, 16},
                                  {2, 3, 128, 32}, {3, 6, 17, 33}, {1, 1, 1, 1},   {2, 0, 4, 4},
                                  {2, 4, 32, 128}, {1, 5, 40, 200}, {2, 3, 6, 0}};

template <typename Real>
Real* p(Tensor& t) { return t.defined() ? t.data<Real>() : nullptr; }

struct Inputs {
  Tensor q, k, v, beta, alpha, W0, gy, gWT;
};

Inputs make_inputs(const Case& c, DType dt, bool with_W0, bool with_gWT) {
  const auto [BH, T, Dk, Dv] = c;
  Rng rng(41 + BH * 1000 + T * 100 + Dk * 10 + Dv);
  Inputs in;
  in.q = simplex({BH * T, Dk}, rng, dt);  // keys and queries on the simplex
  in.k = simplex({BH * T, Dk}, rng, dt);
  in.v = Tensor::randn({BH * T, Dv}, rng, dt);
  in.beta = Tensor::uniform({BH * T}, rng, 0.1, 0.9, dt);
  in.alpha = Tensor::uniform({BH * T}, rng, 0.6, 1.0, dt);
  in.W0 = with_W0 ? Tensor::randn({BH, Dv, Dk}, rng, dt, 0.0, 0.5) : Tensor();
  in.gy = Tensor::randn({BH * T, Dv}, rng, dt);
  in.gWT = with_gWT ? Tensor::randn({BH, Dv, Dk}, rng, dt) : Tensor();
  return in;
}

// Buffers for y, WT, then dq, dk, dv, dbeta, dalpha, dW0.
std::vector<Tensor> empty_outputs(const Case& c, DType dt) {
  const auto [BH, T, Dk, Dv] = c;
  return {Tensor::empty({BH * T, Dv}, dt), Tensor::empty({BH, Dv, Dk}, dt),
          Tensor::empty({BH * T, Dk}, dt), Tensor::empty({BH * T, Dk}, dt),
          Tensor::empty({BH * T, Dv}, dt), Tensor::empty({BH * T}, dt),
          Tensor::empty({BH * T}, dt),     Tensor::empty({BH, Dv, Dk}, dt)};
}

// The fast kernels with checkpoint interval C: y, WT, then dq, dk, dv, dbeta, dalpha, dW0.
template <typename Real>
std::vector<Tensor> run_fast(const Case& c, Inputs& in, int64_t C) {
  const DType dt = dtype_of<Real>();
  const auto [BH, T, Dk, Dv] = c;
  std::vector<Tensor> o = empty_outputs(c, dt);
  Tensor cps = Tensor::empty({BH, kernels::gated_delta_rule_checkpoints(T, C), Dk, Dv}, dt);
  Tensor ws = Tensor::empty({kernels::gated_delta_rule_workspace_size<Real>(BH, Dk, Dv, C)}, dt);
  kernels::gated_delta_rule_forward_cpu<Real>(p<Real>(o[0]), p<Real>(o[1]), p<Real>(cps),
                                              p<Real>(in.q), p<Real>(in.k), p<Real>(in.v),
                                              p<Real>(in.beta), p<Real>(in.alpha),
                                              p<Real>(in.W0), BH, T, Dk, Dv, C, p<Real>(ws));
  fwp_test::poison(ws);  // the forward's leftovers must not matter
  kernels::gated_delta_rule_backward_cpu<Real>(
      p<Real>(o[2]), p<Real>(o[3]), p<Real>(o[4]), p<Real>(o[5]), p<Real>(o[6]), p<Real>(o[7]),
      p<Real>(in.gy), p<Real>(in.gWT), p<Real>(in.q), p<Real>(in.k), p<Real>(in.v),
      p<Real>(in.beta), p<Real>(in.alpha), p<Real>(cps), BH, T, Dk, Dv, C, p<Real>(ws));
  return o;
}

template <typename Real>
std::vector<Tensor> run_naive(const Case& c, Inputs& in) {
  const auto [BH, T, Dk, Dv] = c;
  std::vector<Tensor> o = empty_outputs(c, dtype_of<Real>());
  kernels::gated_delta_rule_forward_naive<Real>(p<Real>(o[0]), p<Real>(o[1]), p<Real>(in.q),
                                                p<Real>(in.k), p<Real>(in.v), p<Real>(in.beta),
                                                p<Real>(in.alpha), p<Real>(in.W0), BH, T, Dk,
                                                Dv);
  kernels::gated_delta_rule_backward_naive<Real>(
      p<Real>(o[2]), p<Real>(o[3]), p<Real>(o[4]), p<Real>(o[5]), p<Real>(o[6]), p<Real>(o[7]),
      p<Real>(in.gy), p<Real>(in.gWT), p<Real>(in.q), p<Real>(in.k), p<Real>(in.v),
      p<Real>(in.beta), p<Real>(in.alpha), p<Real>(in.W0), BH, T, Dk, Dv);
  return o;
}

const char* kNames[] = {"y", "W_T", "dq", "dk", "dv", "dbeta", "dalpha", "dW0"};

template <typename Real>
void check_case(const Case& c, bool with_W0, bool with_gWT, int64_t C, double atol,
                double rtol) {
  Inputs in = make_inputs(c, dtype_of<Real>(), with_W0, with_gWT);
  std::vector<Tensor> fast = run_fast<Real>(c, in, C), naive = run_naive<Real>(c, in);
  for (size_t i = 0; i < fast.size(); ++i) {
    INFO("BH=" << c.BH << " T=" << c.T << " Dk=" << c.Dk << " Dv=" << c.Dv << " W0=" << with_W0
               << " gWT=" << with_gWT << " C=" << C << ": " << kNames[i]);
    CHECK_THAT(fast[i], AllClose(naive[i], atol, rtol));
  }
}

}  // namespace

TEST_CASE("gated delta rule kernels equal their naive twins", "[kernels][gated_delta][simd]") {
  FWP_FOR_EACH_SIMD_COPY();
  for (const Case& c : kCases)
    for (bool W0 : {false, true})
      for (bool gWT : {false, true})
        for (int64_t C : {int64_t(1), int64_t(3), std::max<int64_t>(c.T, 1)}) {
          check_case<double>(c, W0, gWT, C, 1e-12, 1e-10);
          check_case<float>(c, W0, gWT, C, 2e-5, 1e-4);
        }
}

TEST_CASE("gated delta rule: the checkpoint interval changes no bit of any result",
          "[kernels][gated_delta][simd]") {
  FWP_FOR_EACH_SIMD_COPY();
  for (const Case& c : {Case{2, 23, 16, 16}, Case{3, 17, 5, 33}, Case{1, 40, 64, 64}}) {
    Inputs in = make_inputs(c, DType::f32, true, true);
    std::vector<Tensor> one = run_fast<float>(c, in, c.T);  // one segment: a single re-run
    for (int64_t C : {1, 2, 5, 16}) {
      std::vector<Tensor> seg = run_fast<float>(c, in, C);
      for (size_t i = 0; i < one.size(); ++i) {
        INFO("T=" << c.T << " Dk=" << c.Dk << " Dv=" << c.Dv << " C=" << C << ": " << kNames[i]);
        CHECK_THAT(seg[i], AllClose(one[i], 0.0, 0.0));
      }
    }
  }
}

TEST_CASE("gated delta rule forward without checkpoints gives the same outputs",
          "[kernels][gated_delta][simd]") {
  FWP_FOR_EACH_SIMD_COPY();
  const Case c{2, 9, 16, 24};
  Inputs in = make_inputs(c, DType::f64, true, false);
  std::vector<Tensor> with = run_fast<double>(c, in, 4);
  Tensor y = Tensor::empty({c.BH * c.T, c.Dv}, DType::f64), WT = Tensor::empty({c.BH, c.Dv, c.Dk}, DType::f64);
  Tensor ws = Tensor::empty({kernels::gated_delta_rule_workspace_size<double>(c.BH, c.Dk, c.Dv, 4)},
                            DType::f64);
  kernels::gated_delta_rule_forward_cpu<double>(p<double>(y), p<double>(WT), nullptr,
                                                p<double>(in.q), p<double>(in.k), p<double>(in.v),
                                                p<double>(in.beta), p<double>(in.alpha),
                                                p<double>(in.W0), c.BH, c.T, c.Dk, c.Dv, 4,
                                                p<double>(ws));
  CHECK_THAT(y, AllClose(with[0], 0.0, 0.0));
  CHECK_THAT(WT, AllClose(with[1], 0.0, 0.0));
}
