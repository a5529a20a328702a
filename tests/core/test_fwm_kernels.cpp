// The FWM-rule CPU kernels (kernels/fwm_rule.h) against their naive twins, on shapes that hit
// whole and partial blocks of vectors, T = 0 and 1, several checkpoint intervals, with and
// without read-out, initial state, state gradient and the clamp at the first step. Inputs make
// the clamp active on some steps and not on others. Also: the checkpoint interval changes no bit
// of the gradients (the backward's re-run of a segment repeats the forward exactly).
#include "tests/catch.h"
#include "tests/simd_copies.h"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "core/tensor.h"
#include "kernels/fwm_rule.h"
#include "tests/fwm_inputs.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::mixed_rows;

namespace {

struct Case {
  int64_t BH, T, Dk, Dv;
};
const std::vector<Case> kCases = {{3, 7, 5, 3},   {2, 9, 16, 16}, {1, 6, 48, 200}, {2, 5, 64, 64},
                                  {2, 4, 17, 33}, {1, 1, 1, 1},   {2, 0, 4, 4},    {2, 12, 8, 130}};

template <typename Real>
Real* p(Tensor& t) { return t.defined() ? t.data<Real>() : nullptr; }

struct Inputs {
  Tensor q, k, v, beta, W0, gy, gWT;
};

Inputs make_inputs(const Case& c, DType dt, bool with_q, bool with_W0, bool with_gWT) {
  const auto [BH, T, Dk, Dv] = c;
  Rng rng(31 + BH * 1000 + T * 100 + Dk * 10 + Dv);
  Inputs in;
  in.q = with_q ? mixed_rows({BH * T, Dk}, 1.0, 1.0, rng, dt) : Tensor();
  in.k = mixed_rows({BH * T, Dk}, 1.5, 0.8, rng, dt);
  in.v = mixed_rows({BH * T, Dv}, 2.0, 0.02, rng, dt);
  in.beta = Tensor::uniform({BH * T}, rng, 0.1, 0.9, dt);
  in.W0 = with_W0 ? Tensor::randn({BH, Dv, Dk}, rng, dt, 0.0, 0.3 / std::sqrt(double(Dk * Dv)))
                  : Tensor();
  in.gy = with_q ? Tensor::randn({BH * T, Dv}, rng, dt) : Tensor();
  in.gWT = with_gWT ? Tensor::randn({BH, Dv, Dk}, rng, dt) : Tensor();
  return in;
}

// Buffers for y, WT, dq, dk, dv, dbeta, dW0; y and dq undefined without read-out.
std::vector<Tensor> empty_outputs(const Case& c, DType dt, bool with_q) {
  const auto [BH, T, Dk, Dv] = c;
  return {with_q ? Tensor::empty({BH * T, Dv}, dt) : Tensor(),
          Tensor::empty({BH, Dv, Dk}, dt),
          with_q ? Tensor::empty({BH * T, Dk}, dt) : Tensor(),
          Tensor::empty({BH * T, Dk}, dt), Tensor::empty({BH * T, Dv}, dt),
          Tensor::empty({BH * T}, dt), Tensor::empty({BH, Dv, Dk}, dt)};
}

// Runs the fast kernels with checkpoint interval C; returns y, WT, dq, dk, dv, dbeta, dW0.
template <typename Real>
std::vector<Tensor> run_fast(const Case& c, Inputs& in, bool clamp_first, int64_t C) {
  const DType dt = dtype_of<Real>();
  const auto [BH, T, Dk, Dv] = c;
  std::vector<Tensor> out = empty_outputs(c, dt, in.q.defined());
  Tensor cps = Tensor::empty({BH, kernels::fwm_rule_checkpoints(T, C), Dk, Dv}, dt);
  Tensor ws = Tensor::empty({kernels::fwm_rule_workspace_size<Real>(BH, Dk, Dv, C)}, dt);
  kernels::fwm_rule_forward_cpu<Real>(p<Real>(out[0]), p<Real>(out[1]), p<Real>(cps),
                                      p<Real>(in.q), p<Real>(in.k), p<Real>(in.v),
                                      p<Real>(in.beta), p<Real>(in.W0), clamp_first, BH, T, Dk,
                                      Dv, C, p<Real>(ws));
  fwp_test::poison(ws);  // the forward's leftovers must not matter
  kernels::fwm_rule_backward_cpu<Real>(
      p<Real>(out[2]), p<Real>(out[3]), p<Real>(out[4]), p<Real>(out[5]), p<Real>(out[6]),
      p<Real>(in.gy), p<Real>(in.gWT), p<Real>(in.q), p<Real>(in.k), p<Real>(in.v),
      p<Real>(in.beta), p<Real>(cps), clamp_first, BH, T, Dk, Dv, C, p<Real>(ws));
  return out;
}

template <typename Real>
std::vector<Tensor> run_naive(const Case& c, Inputs& in, bool clamp_first) {
  const auto [BH, T, Dk, Dv] = c;
  std::vector<Tensor> out = empty_outputs(c, dtype_of<Real>(), in.q.defined());
  kernels::fwm_rule_forward_naive<Real>(p<Real>(out[0]), p<Real>(out[1]), p<Real>(in.q),
                                        p<Real>(in.k), p<Real>(in.v), p<Real>(in.beta),
                                        p<Real>(in.W0), clamp_first, BH, T, Dk, Dv);
  kernels::fwm_rule_backward_naive<Real>(
      p<Real>(out[2]), p<Real>(out[3]), p<Real>(out[4]), p<Real>(out[5]), p<Real>(out[6]),
      p<Real>(in.gy), p<Real>(in.gWT), p<Real>(in.q), p<Real>(in.k), p<Real>(in.v),
      p<Real>(in.beta), p<Real>(in.W0), clamp_first, BH, T, Dk, Dv);
  return out;
}

const char* kNames[] = {"y", "W_T", "dq", "dk", "dv", "dbeta", "dW0"};

template <typename Real>
void check_case(const Case& c, bool with_q, bool with_W0, bool with_gWT, bool clamp_first,
                double atol, double rtol) {
  Inputs in = make_inputs(c, dtype_of<Real>(), with_q, with_W0, with_gWT);
  std::vector<Tensor> ref = run_naive<Real>(c, in, clamp_first);
  for (int64_t C : {1, 3}) {  // every state a checkpoint; segments of 3 (other C: test below)
    std::vector<Tensor> got = run_fast<Real>(c, in, clamp_first, C);
    for (size_t i = 0; i < got.size(); ++i) {
      if (!got[i].defined()) continue;
      INFO(kNames[i] << " with C=" << C);
      CHECK_THAT(got[i], AllClose(ref[i], atol, rtol));
    }
  }
}

}  // namespace

TEST_CASE("fwm rule kernels equal their naive twins", "[kernels][fwm_rule][simd]") {
  FWP_FOR_EACH_SIMD_COPY();
  for (const Case& c : kCases)
    for (bool with_q : {false, true})
      for (bool init : {false, true})
        for (bool clamp_first : {false, true}) {
          INFO("BH=" << c.BH << " T=" << c.T << " Dk=" << c.Dk << " Dv=" << c.Dv << " q=" << with_q
                     << " W0/gWT=" << init << " clamp_first=" << clamp_first);
          check_case<double>(c, with_q, init, init, clamp_first, 1e-12, 1e-10);
          check_case<float>(c, with_q, init, !init, clamp_first, 2e-5, 1e-4);
        }
}

TEST_CASE("fwm rule inputs of the kernel test clamp on some steps only", "[kernels][fwm_rule]") {
  // Counts the clamped steps of the naive forward over one sequence of the first case: the test
  // above is meaningless unless both branches of the clamp occur.
  Case c{1, 40, 16, 16};
  Inputs in = make_inputs(c, DType::f64, false, false, false);
  int clamped = 0;
  Tensor WT = Tensor::empty({1, c.Dv, c.Dk}, DType::f64);
  for (int64_t T = 1; T <= c.T; ++T) {
    kernels::fwm_rule_forward_naive<double>(nullptr, WT.data<double>(), nullptr,
                                            in.k.data<double>(), in.v.data<double>(),
                                            in.beta.data<double>(), nullptr, true, 1, T, c.Dk,
                                            c.Dv);
    double sq = 0;
    for (double w : WT.to_vector()) sq += w * w;
    clamped += std::abs(std::sqrt(sq) - 1.0) < 1e-12;  // clamped states have norm exactly 1
  }
  INFO(clamped << " of " << c.T << " states were clamped");
  CHECK(clamped >= 5);
  CHECK(clamped <= c.T - 5);
}

TEST_CASE("fwm rule gradients do not depend on the checkpoint interval, to the bit",
          "[kernels][fwm_rule][simd]") {
  FWP_FOR_EACH_SIMD_COPY();
  for (const Case& c : {Case{2, 13, 16, 200}, Case{1, 9, 7, 5}}) {
    Inputs in = make_inputs(c, DType::f32, true, true, true);
    std::vector<Tensor> base = run_fast<float>(c, in, false, c.T);
    for (int64_t C : {1, 2, 5}) {
      std::vector<Tensor> got = run_fast<float>(c, in, false, C);
      for (size_t i = 0; i < got.size(); ++i) {
        INFO(kNames[i] << " with C=" << C);
        CHECK(got[i].to_vector() == base[i].to_vector());
      }
    }
  }
}

#if defined(__SSE__)
TEST_CASE("fwm rule kernels restore the caller's denormal mode", "[kernels][fwm_rule]") {
  // The kernels flush denormals while they run; the calling thread must get its mode back.
  // (Only the control bits: the low six are sticky exception flags that any arithmetic sets.)
  const unsigned control = ~0x3Fu, before = _mm_getcsr() & control;
  Case c{2, 5, 8, 16};
  Inputs in = make_inputs(c, DType::f32, true, false, true);
  run_fast<float>(c, in, true, 2);
  CHECK((_mm_getcsr() & control) == before);
  CHECK((before & 0x8040u) == 0);  // the test means something only if flushing was off
}
#endif
