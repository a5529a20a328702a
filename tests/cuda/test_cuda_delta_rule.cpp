// The fused delta rule on the GPU (kernels/cuda/delta_rule_cuda.cu) against the f64 CPU reference
// (delta_rule_forward_naive / delta_rule_backward_naive in double): outputs, final state and the
// gradients of every input, at the (Ddot, Dv) sizes of the paper's models and at odd sizes that
// leave lanes and warps partly empty; with and without W0, grad_y and grad_WT.
#include <vector>

#include "kernels/delta_rule.h"
#include "tests/cuda/cuda_test.h"
#include "tests/fast_weight_inputs.h"

using namespace fwp;
using fwp_test::check_close;
using fwp_test::simplex;

namespace {

struct Case {
  int64_t BH, T, Dk, Dv;
};

template <typename Real>
Real* ptr(Tensor& t) {
  return t.defined() ? t.data<Real>() : nullptr;
}

// Runs the CUDA kernels in Real and the naive CPU kernels in f64 on the same inputs.
template <typename Real>
void check_delta_cuda(const Case& c, bool with_W0, bool with_gy, bool with_gWT, double tol) {
  const auto [BH, T, Dk, Dv] = c;
  INFO("BH=" << BH << " T=" << T << " Dk=" << Dk << " Dv=" << Dv << " W0=" << with_W0
             << " grad_y=" << with_gy << " grad_WT=" << with_gWT << " dtype "
             << dtype_of<Real>());
  const DType f64 = DType::f64, dt = dtype_of<Real>();
  Rng rng(23 + BH * 1000 + T * 100 + Dk * 10 + Dv);
  // inputs drawn in f64, rounded to Real once: both sides see the same values
  Tensor q = simplex({BH * T, Dk}, rng, dt).to(f64), k = simplex({BH * T, Dk}, rng, dt).to(f64);
  Tensor v = Tensor::randn({BH * T, Dv}, rng, dt).to(f64);
  Tensor beta = Tensor::uniform({BH * T}, rng, 0.1, 0.9, dt).to(f64);
  Tensor W0 = with_W0 ? Tensor::randn({BH, Dv, Dk}, rng, dt, 0.0, 0.5).to(f64) : Tensor();
  Tensor gy = with_gy ? Tensor::randn({BH * T, Dv}, rng, dt).to(f64) : Tensor();
  Tensor gWT = with_gWT ? Tensor::randn({BH, Dv, Dk}, rng, dt).to(f64) : Tensor();

  // f64 reference on the CPU
  Tensor y = Tensor::empty({BH * T, Dv}, f64), WT = Tensor::empty({BH, Dv, Dk}, f64),
         d = Tensor::empty({BH * T, Dv}, f64);
  kernels::delta_rule_forward_naive<double>(ptr<double>(y), ptr<double>(WT), ptr<double>(d),
                                            ptr<double>(q), ptr<double>(k), ptr<double>(v),
                                            ptr<double>(beta), ptr<double>(W0), BH, T, Dk, Dv);
  Tensor dq = Tensor::empty({BH * T, Dk}, f64), dk = Tensor::empty({BH * T, Dk}, f64),
         dv = Tensor::empty({BH * T, Dv}, f64), db = Tensor::empty({BH * T}, f64),
         dW0 = Tensor::empty({BH, Dv, Dk}, f64);
  kernels::delta_rule_backward_naive<double>(
      ptr<double>(dq), ptr<double>(dk), ptr<double>(dv), ptr<double>(db), ptr<double>(dW0),
      ptr<double>(gy), ptr<double>(gWT), ptr<double>(q), ptr<double>(k), ptr<double>(beta),
      ptr<double>(d), ptr<double>(WT), BH, T, Dk, Dv);

  // the CUDA kernels in Real
  auto dev = [&](const Tensor& t) { return t.defined() ? t.to(dt).to(Device::cuda) : Tensor(); };
  Tensor q_ = dev(q), k_ = dev(k), v_ = dev(v), beta_ = dev(beta), W0_ = dev(W0), gy_ = dev(gy),
         gWT_ = dev(gWT);
  Tensor y_ = Tensor::empty({BH * T, Dv}, dt, Device::cuda),
         WT_ = Tensor::empty({BH, Dv, Dk}, dt, Device::cuda),
         d_ = Tensor::empty({BH * T, Dv}, dt, Device::cuda);
  kernels::delta_rule_forward_cuda<Real>(ptr<Real>(y_), ptr<Real>(WT_), ptr<Real>(d_),
                                         ptr<Real>(q_), ptr<Real>(k_), ptr<Real>(v_),
                                         ptr<Real>(beta_), ptr<Real>(W0_), BH, T, Dk, Dv,
                                         nullptr);
  check_close(y_, y, tol, "y");
  check_close(WT_, WT, tol, "W_T");
  check_close(d_, d, tol, "d");
  Tensor ws = Tensor::empty(
      {std::max<int64_t>(1, kernels::delta_rule_workspace_size_cuda<Real>(BH, T, Dk, Dv))}, dt,
      Device::cuda);
  Tensor dq_ = Tensor::empty({BH * T, Dk}, dt, Device::cuda),
         dk_ = Tensor::empty({BH * T, Dk}, dt, Device::cuda),
         dv_ = Tensor::empty({BH * T, Dv}, dt, Device::cuda),
         db_ = Tensor::empty({BH * T}, dt, Device::cuda),
         dW0_ = Tensor::empty({BH, Dv, Dk}, dt, Device::cuda);
  kernels::delta_rule_backward_cuda<Real>(
      ptr<Real>(dq_), ptr<Real>(dk_), ptr<Real>(dv_), ptr<Real>(db_), ptr<Real>(dW0_),
      ptr<Real>(gy_), ptr<Real>(gWT_), ptr<Real>(q_), ptr<Real>(k_), ptr<Real>(beta_),
      ptr<Real>(d_), ptr<Real>(WT_), BH, T, Dk, Dv, ptr<Real>(ws));
  check_close(dq_, dq, tol, "dq");
  check_close(dk_, dk, tol, "dk");
  check_close(dv_, dv, tol, "dv");
  check_close(db_, db, tol, "dbeta");
  check_close(dW0_, dW0, tol, "dW0");
}

}  // namespace

TEST_CASE("cuda: delta rule forward and backward against the f64 reference, model sizes",
          "[cuda]") {
  FWP_CUDA_OR_SKIP();
  // (Ddot, Dv) of the paper's models; T is short for the largest states (emulator speed)
  const std::vector<Case> cases = {{2, 64, 16, 16}, {2, 64, 32, 32},  {1, 64, 64, 64},
                                   {2, 33, 96, 16}, {1, 33, 128, 32}, {1, 17, 128, 128},
                                   {1, 17, 256, 64}};
  for (const Case& c : cases) check_delta_cuda<float>(c, true, true, true, 2e-5);
}

TEST_CASE("cuda: delta rule at odd sizes, without W0, grad_y or grad_WT, and in f64", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  check_delta_cuda<float>({3, 7, 5, 3}, false, true, false, 2e-5);
  check_delta_cuda<float>({2, 5, 17, 33}, true, false, true, 2e-5);  // only W_T has a gradient
  check_delta_cuda<float>({1, 3, 33, 1}, true, true, true, 2e-5);
  check_delta_cuda<float>({1, 1, 1, 1}, false, true, true, 2e-5);
  check_delta_cuda<float>({2, 0, 4, 4}, true, true, true, 2e-5);   // T = 0: W_T = W0
  check_delta_cuda<float>({2, 3, 6, 0}, true, true, true, 2e-5);   // Dv = 0
  check_delta_cuda<double>({2, 9, 17, 33}, true, true, true, 1e-12);
  check_delta_cuda<double>({1, 5, 130, 20}, true, true, true, 1e-12);
}

TEST_CASE("cuda: delta rule refuses a key width it does not support", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Tensor x = Tensor::zeros({1}, DType::f32, Device::cuda);
  float* p = x.data<float>();
  CHECK_THROWS_WITH(
      kernels::delta_rule_forward_cuda<float>(p, p, p, p, p, p, p, nullptr, 1, 1, 257, 1, nullptr),
      fwp_test::HasSubstr("Dk <= 256"));
}
