// The fast-weight CPU kernels against their naive twins (kernels/delta_rule.h, kernels/sum_rule.h),
// on shapes that hit every code path: fixed and runtime vector counts, ragged rows that need
// zero padding, T = 0 and 1, with and without initial states and upstream state gradients.
#include "tests/catch.h"
#include "tests/simd_copies.h"

#include "core/tensor.h"
#include "kernels/delta_rule.h"
#include "kernels/sum_rule.h"
#include "tests/fast_weight_inputs.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::simplex;

namespace {

struct Case {
  int64_t BH, T, Dk, Dv;
};
const std::vector<Case> kCases = {{3, 7, 5, 3},   {2, 9, 16, 16}, {2, 5, 64, 64}, {1, 6, 48, 16},
                                  {2, 3, 128, 32}, {3, 6, 17, 33}, {1, 1, 1, 1},   {2, 0, 4, 4},
                                  {2, 4, 32, 128}, {2, 5, 8, 8},   {1, 5, 256, 40},
                                  {2, 3, 6, 0}};

template <typename Real>
Real* p(Tensor& t) { return t.defined() ? t.data<Real>() : nullptr; }

template <typename Real>
void check_delta(const Case& c, bool with_W0, bool with_gWT, double atol, double rtol) {
  const DType dt = dtype_of<Real>();
  const auto [BH, T, Dk, Dv] = c;
  Rng rng(17 + BH * 1000 + T * 100 + Dk * 10 + Dv);
  // keys and queries on the simplex (tests/fast_weight_inputs.h)
  Tensor q = simplex({BH * T, Dk}, rng, dt), k = simplex({BH * T, Dk}, rng, dt);
  Tensor v = Tensor::randn({BH * T, Dv}, rng, dt), beta = Tensor::uniform({BH * T}, rng, 0.1, 0.9, dt);
  Tensor W0 = with_W0 ? Tensor::randn({BH, Dv, Dk}, rng, dt, 0.0, 0.5) : Tensor();
  Tensor gy = Tensor::randn({BH * T, Dv}, rng, dt);
  Tensor gWT = with_gWT ? Tensor::randn({BH, Dv, Dk}, rng, dt) : Tensor();
  Tensor ws = Tensor::empty({kernels::delta_rule_workspace_size<Real>(BH, Dk, Dv)}, dt);
  // forward
  Tensor y[2], WT[2], d[2];
  for (int i = 0; i < 2; ++i) {
    y[i] = Tensor::empty({BH * T, Dv}, dt);
    WT[i] = Tensor::empty({BH, Dv, Dk}, dt);
    d[i] = Tensor::empty({BH * T, Dv}, dt);
  }
  kernels::delta_rule_forward_cpu<Real>(p<Real>(y[0]), p<Real>(WT[0]), p<Real>(d[0]), p<Real>(q),
                                        p<Real>(k), p<Real>(v), p<Real>(beta), p<Real>(W0), BH,
                                        T, Dk, Dv, p<Real>(ws));
  kernels::delta_rule_forward_naive<Real>(p<Real>(y[1]), p<Real>(WT[1]), p<Real>(d[1]),
                                          p<Real>(q), p<Real>(k), p<Real>(v), p<Real>(beta),
                                          p<Real>(W0), BH, T, Dk, Dv);
  INFO("BH=" << BH << " T=" << T << " Dk=" << Dk << " Dv=" << Dv << " W0=" << with_W0
             << " gWT=" << with_gWT);
  CHECK_THAT(y[0], AllClose(y[1], atol, rtol));
  CHECK_THAT(WT[0], AllClose(WT[1], atol, rtol));
  CHECK_THAT(d[0], AllClose(d[1], atol, rtol));
  // backward, both from the naive forward's saved tensors
  Tensor g[2][5];
  for (int i = 0; i < 2; ++i) {
    g[i][0] = Tensor::empty({BH * T, Dk}, dt);
    g[i][1] = Tensor::empty({BH * T, Dk}, dt);
    g[i][2] = Tensor::empty({BH * T, Dv}, dt);
    g[i][3] = Tensor::empty({BH * T}, dt);
    g[i][4] = Tensor::empty({BH, Dv, Dk}, dt);
  }
  fwp_test::poison(ws);  // the forward's leftovers must not matter
  kernels::delta_rule_backward_cpu<Real>(p<Real>(g[0][0]), p<Real>(g[0][1]), p<Real>(g[0][2]),
                                         p<Real>(g[0][3]), p<Real>(g[0][4]), p<Real>(gy),
                                         p<Real>(gWT), p<Real>(q), p<Real>(k), p<Real>(beta),
                                         p<Real>(d[1]), p<Real>(WT[1]), BH, T, Dk, Dv,
                                         p<Real>(ws));
  kernels::delta_rule_backward_naive<Real>(p<Real>(g[1][0]), p<Real>(g[1][1]), p<Real>(g[1][2]),
                                           p<Real>(g[1][3]), p<Real>(g[1][4]), p<Real>(gy),
                                           p<Real>(gWT), p<Real>(q), p<Real>(k), p<Real>(beta),
                                           p<Real>(d[1]), p<Real>(WT[1]), BH, T, Dk, Dv);
  for (int j = 0; j < 5; ++j) {
    INFO("gradient " << j << " of (dq, dk, dv, dbeta, dW0)");
    CHECK_THAT(g[0][j], AllClose(g[1][j], atol, rtol));
  }
  // Without a gradient on y (only W_T is used, as the retrieval model does): dq is zero. Fresh
  // outputs and workspace: the test runner fills new memory with NaN (tests/main.cpp), so a
  // kernel that reads workspace it did not write (q_t is never loaded here) shows up as NaN.
  if (!with_gWT) return;
  ws = Tensor::empty(ws.shape(), dt);
  for (auto& gi : g)
    for (auto& t : gi) t = Tensor::empty(t.shape(), dt);
  kernels::delta_rule_backward_cpu<Real>(p<Real>(g[0][0]), p<Real>(g[0][1]), p<Real>(g[0][2]),
                                         p<Real>(g[0][3]), p<Real>(g[0][4]), nullptr,
                                         p<Real>(gWT), p<Real>(q), p<Real>(k), p<Real>(beta),
                                         p<Real>(d[1]), p<Real>(WT[1]), BH, T, Dk, Dv,
                                         p<Real>(ws));
  kernels::delta_rule_backward_naive<Real>(p<Real>(g[1][0]), p<Real>(g[1][1]), p<Real>(g[1][2]),
                                           p<Real>(g[1][3]), p<Real>(g[1][4]), nullptr,
                                           p<Real>(gWT), p<Real>(q), p<Real>(k), p<Real>(beta),
                                           p<Real>(d[1]), p<Real>(WT[1]), BH, T, Dk, Dv);
  CHECK_THAT(g[0][0], AllClose(Tensor::zeros({BH * T, Dk}, dt), 0.0, 0.0));
  for (int j = 0; j < 5; ++j) {
    INFO("without grad_y: gradient " << j << " of (dq, dk, dv, dbeta, dW0)");
    CHECK_THAT(g[0][j], AllClose(g[1][j], atol, rtol));
  }
}

template <typename Real>
void check_sum(const Case& c, bool normalize, bool with_init, bool with_gstate, double atol,
               double rtol) {
  const DType dt = dtype_of<Real>();
  const auto [BH, T, Dk, Dv] = c;
  Rng rng(29 + BH * 1000 + T * 100 + Dk * 10 + Dv);
  Tensor q = simplex({BH * T, Dk}, rng, dt), k = simplex({BH * T, Dk}, rng, dt);
  Tensor v = Tensor::randn({BH * T, Dv}, rng, dt);
  Tensor W0 = with_init ? Tensor::randn({BH, Dv, Dk}, rng, dt, 0.0, 0.5) : Tensor();
  Tensor z0 = with_init ? Tensor::uniform({BH, Dk}, rng, 0.1, 1.0, dt) : Tensor();
  Tensor gy = Tensor::randn({BH * T, Dv}, rng, dt);
  Tensor gWT = with_gstate ? Tensor::randn({BH, Dv, Dk}, rng, dt) : Tensor();
  Tensor gzT = with_gstate ? Tensor::randn({BH, Dk}, rng, dt) : Tensor();
  Tensor ws = Tensor::empty({kernels::sum_rule_workspace_size<Real>(BH, Dk, Dv)}, dt);
  const Real eps = Real(1e-3);
  Tensor y[2], WT[2], zT[2], den[2];
  for (int i = 0; i < 2; ++i) {
    y[i] = Tensor::empty({BH * T, Dv}, dt);
    WT[i] = Tensor::empty({BH, Dv, Dk}, dt);
    zT[i] = Tensor::empty({BH, Dk}, dt);
    den[i] = Tensor::zeros({BH * T}, dt);
  }
  kernels::sum_rule_forward_cpu<Real>(p<Real>(y[0]), p<Real>(WT[0]), p<Real>(zT[0]),
                                      p<Real>(den[0]), p<Real>(q), p<Real>(k), p<Real>(v),
                                      p<Real>(W0), p<Real>(z0), normalize, eps, BH, T, Dk, Dv,
                                      p<Real>(ws));
  kernels::sum_rule_forward_naive<Real>(p<Real>(y[1]), p<Real>(WT[1]), p<Real>(zT[1]),
                                        p<Real>(den[1]), p<Real>(q), p<Real>(k), p<Real>(v),
                                        p<Real>(W0), p<Real>(z0), normalize, eps, BH, T, Dk, Dv);
  INFO("BH=" << BH << " T=" << T << " Dk=" << Dk << " Dv=" << Dv << " normalize=" << normalize
             << " init=" << with_init << " gstate=" << with_gstate);
  CHECK_THAT(y[0], AllClose(y[1], atol, rtol));
  CHECK_THAT(WT[0], AllClose(WT[1], atol, rtol));
  CHECK_THAT(zT[0], AllClose(zT[1], atol, rtol));
  CHECK_THAT(den[0], AllClose(den[1], atol, rtol));
  Tensor g[2][5];
  for (int i = 0; i < 2; ++i) {
    g[i][0] = Tensor::empty({BH * T, Dk}, dt);
    g[i][1] = Tensor::empty({BH * T, Dk}, dt);
    g[i][2] = Tensor::empty({BH * T, Dv}, dt);
    g[i][3] = Tensor::empty({BH, Dv, Dk}, dt);
    g[i][4] = Tensor::empty({BH, Dk}, dt);
  }
  fwp_test::poison(ws);  // the forward's leftovers must not matter
  kernels::sum_rule_backward_cpu<Real>(p<Real>(g[0][0]), p<Real>(g[0][1]), p<Real>(g[0][2]),
                                       p<Real>(g[0][3]), p<Real>(g[0][4]), p<Real>(gy),
                                       p<Real>(gWT), p<Real>(gzT), p<Real>(q), p<Real>(k),
                                       p<Real>(v), p<Real>(W0), p<Real>(z0), p<Real>(y[1]),
                                       p<Real>(den[1]), normalize, BH, T, Dk, Dv, p<Real>(ws));
  kernels::sum_rule_backward_naive<Real>(p<Real>(g[1][0]), p<Real>(g[1][1]), p<Real>(g[1][2]),
                                         p<Real>(g[1][3]), p<Real>(g[1][4]), p<Real>(gy),
                                         p<Real>(gWT), p<Real>(gzT), p<Real>(q), p<Real>(k),
                                         p<Real>(v), p<Real>(W0), p<Real>(z0), p<Real>(y[1]),
                                         p<Real>(den[1]), normalize, BH, T, Dk, Dv);
  for (int j = 0; j < 5; ++j) {
    INFO("gradient " << j << " of (dq, dk, dv, dW0, dz0)");
    CHECK_THAT(g[0][j], AllClose(g[1][j], atol, rtol));
  }
}

}  // namespace

TEST_CASE("delta rule kernels equal their naive twins", "[kernels][fast_weight][simd]") {
  FWP_FOR_EACH_SIMD_COPY();
  for (const Case& c : kCases)
    for (bool W0 : {false, true})
      for (bool gWT : {false, true}) {
        check_delta<double>(c, W0, gWT, 1e-12, 1e-10);
        check_delta<float>(c, W0, gWT, 2e-5, 1e-4);
      }
}

TEST_CASE("sum rule kernels equal their naive twins", "[kernels][fast_weight][simd]") {
  FWP_FOR_EACH_SIMD_COPY();
  for (const Case& c : kCases)
    for (bool normalize : {false, true})
      for (bool init : {false, true}) {
        check_sum<double>(c, normalize, init, init, 1e-12, 1e-10);
        check_sum<float>(c, normalize, init, !init, 2e-5, 1e-4);
      }
}
