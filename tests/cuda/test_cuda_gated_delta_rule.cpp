// The gated delta rule on the GPU (kernels/cuda/gated_delta_rule_cuda.cu) against the f64 CPU
// reference (gated_delta_rule_forward_naive / gated_delta_rule_backward_naive in double, which
// keep every state): outputs, final state and the gradients of every input including alpha, for
// several checkpoint intervals C (1, one that does not divide T, larger than T).
#include <vector>

#include "kernels/gated_delta_rule.h"
#include "tests/cuda/cuda_test.h"
#include "tests/fast_weight_inputs.h"

using namespace fwp;
using fwp_test::check_close;
using fwp_test::simplex;

namespace {

struct Case {
  int64_t BH, T, Dk, Dv, C;
};

template <typename Real>
Real* ptr(Tensor& t) {
  return t.defined() ? t.data<Real>() : nullptr;
}

template <typename Real>
void check_gated_cuda(const Case& c, bool with_W0, bool with_gWT, double tol) {
  const auto [BH, T, Dk, Dv, C] = c;
  INFO("BH=" << BH << " T=" << T << " Dk=" << Dk << " Dv=" << Dv << " C=" << C
             << " W0=" << with_W0 << " grad_WT=" << with_gWT << " dtype " << dtype_of<Real>());
  const DType f64 = DType::f64, dt = dtype_of<Real>();
  Rng rng(61 + BH * 1000 + T * 100 + Dk * 10 + Dv + C);
  Tensor q = simplex({BH * T, Dk}, rng, dt).to(f64), k = simplex({BH * T, Dk}, rng, dt).to(f64);
  Tensor v = Tensor::randn({BH * T, Dv}, rng, dt).to(f64);
  Tensor beta = Tensor::uniform({BH * T}, rng, 0.1, 0.9, dt).to(f64);
  Tensor alpha = Tensor::uniform({BH * T}, rng, 0.6, 1.0, dt).to(f64);
  Tensor W0 = with_W0 ? Tensor::randn({BH, Dv, Dk}, rng, dt, 0.0, 0.5).to(f64) : Tensor();
  Tensor gy = Tensor::randn({BH * T, Dv}, rng, dt).to(f64);
  Tensor gWT = with_gWT ? Tensor::randn({BH, Dv, Dk}, rng, dt).to(f64) : Tensor();

  Tensor y = Tensor::empty({BH * T, Dv}, f64), WT = Tensor::empty({BH, Dv, Dk}, f64);
  kernels::gated_delta_rule_forward_naive<double>(ptr<double>(y), ptr<double>(WT), ptr<double>(q),
                                                  ptr<double>(k), ptr<double>(v),
                                                  ptr<double>(beta), ptr<double>(alpha),
                                                  ptr<double>(W0), BH, T, Dk, Dv);
  Tensor dq = Tensor::empty({BH * T, Dk}, f64), dk = Tensor::empty({BH * T, Dk}, f64),
         dv = Tensor::empty({BH * T, Dv}, f64), db = Tensor::empty({BH * T}, f64),
         da = Tensor::empty({BH * T}, f64), dW0 = Tensor::empty({BH, Dv, Dk}, f64);
  kernels::gated_delta_rule_backward_naive<double>(
      ptr<double>(dq), ptr<double>(dk), ptr<double>(dv), ptr<double>(db), ptr<double>(da),
      ptr<double>(dW0), ptr<double>(gy), ptr<double>(gWT), ptr<double>(q), ptr<double>(k),
      ptr<double>(v), ptr<double>(beta), ptr<double>(alpha), ptr<double>(W0), BH, T, Dk, Dv);

  auto dev = [&](const Tensor& t) { return t.defined() ? t.to(dt).to(Device::cuda) : Tensor(); };
  auto out = [&](const Shape& s) { return Tensor::empty(s, dt, Device::cuda); };
  Tensor q_ = dev(q), k_ = dev(k), v_ = dev(v), beta_ = dev(beta), alpha_ = dev(alpha),
         W0_ = dev(W0), gy_ = dev(gy), gWT_ = dev(gWT);
  Tensor y_ = out({BH * T, Dv}), WT_ = out({BH, Dv, Dk}),
         cps = out({BH, kernels::gated_delta_rule_checkpoints(T, C), Dk, Dv});
  kernels::gated_delta_rule_forward_cuda<Real>(ptr<Real>(y_), ptr<Real>(WT_), ptr<Real>(cps),
                                               ptr<Real>(q_), ptr<Real>(k_), ptr<Real>(v_),
                                               ptr<Real>(beta_), ptr<Real>(alpha_),
                                               ptr<Real>(W0_), BH, T, Dk, Dv, C, nullptr);
  check_close(y_, y, tol, "y");
  check_close(WT_, WT, tol, "W_T");
  Tensor ws = out({std::max<int64_t>(
      1, kernels::gated_delta_rule_workspace_size_cuda<Real>(BH, T, Dk, Dv, C))});
  Tensor dq_ = out({BH * T, Dk}), dk_ = out({BH * T, Dk}), dv_ = out({BH * T, Dv}),
         db_ = out({BH * T}), da_ = out({BH * T}), dW0_ = out({BH, Dv, Dk});
  kernels::gated_delta_rule_backward_cuda<Real>(
      ptr<Real>(dq_), ptr<Real>(dk_), ptr<Real>(dv_), ptr<Real>(db_), ptr<Real>(da_),
      ptr<Real>(dW0_), ptr<Real>(gy_), ptr<Real>(gWT_), ptr<Real>(q_), ptr<Real>(k_),
      ptr<Real>(v_), ptr<Real>(beta_), ptr<Real>(alpha_), ptr<Real>(cps), BH, T, Dk, Dv, C,
      ptr<Real>(ws));
  check_close(dq_, dq, tol, "dq");
  check_close(dk_, dk, tol, "dk");
  check_close(dv_, dv, tol, "dv");
  check_close(db_, db, tol, "dbeta");
  check_close(da_, da, tol, "dalpha");
  check_close(dW0_, dW0, tol, "dW0");
}

}  // namespace

TEST_CASE("cuda: gated delta rule against the f64 reference, model sizes", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  const std::vector<Case> cases = {{2, 64, 16, 16, 16},  {2, 64, 32, 32, 7},
                                   {1, 64, 64, 64, 64},  {2, 33, 96, 16, 5},
                                   {1, 33, 128, 32, 16}, {1, 17, 128, 128, 4},
                                   {1, 17, 256, 64, 8}};
  for (const Case& c : cases) check_gated_cuda<float>(c, true, true, 2e-5);
}

TEST_CASE("cuda: gated delta rule at odd sizes and checkpoint intervals, and in f64", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  check_gated_cuda<float>({3, 7, 5, 3, 1}, false, false, 2e-5);
  check_gated_cuda<float>({2, 9, 17, 33, 4}, true, false, 2e-5);
  check_gated_cuda<float>({1, 5, 33, 1, 100}, true, true, 2e-5);
  check_gated_cuda<float>({2, 0, 4, 4, 3}, true, true, 2e-5);
  check_gated_cuda<float>({2, 3, 6, 0, 2}, true, true, 2e-5);
  check_gated_cuda<double>({2, 9, 17, 33, 4}, true, true, 1e-12);
}
