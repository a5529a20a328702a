// The fused sum rule on the GPU (kernels/cuda/sum_rule_cuda.cu) against the f64 CPU reference
// (sum_rule_forward_naive / sum_rule_backward_naive in double), with and without the attention
// denominator, initial states and state gradients, at the listed (Ddot, Dv) sizes and odd ones.
#include <vector>

#include "kernels/sum_rule.h"
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

template <typename Real>
void check_sum_cuda(const Case& c, bool normalize, bool with_states, double tol) {
  const auto [BH, T, Dk, Dv] = c;
  INFO("BH=" << BH << " T=" << T << " Dk=" << Dk << " Dv=" << Dv << " normalize=" << normalize
             << " states=" << with_states << " dtype " << dtype_of<Real>());
  const DType f64 = DType::f64, dt = dtype_of<Real>();
  const double eps = 1e-5;
  Rng rng(41 + BH * 1000 + T * 100 + Dk * 10 + Dv);
  Tensor q = simplex({BH * T, Dk}, rng, dt).to(f64), k = simplex({BH * T, Dk}, rng, dt).to(f64);
  Tensor v = Tensor::randn({BH * T, Dv}, rng, dt).to(f64);
  Tensor W0 = with_states ? Tensor::randn({BH, Dv, Dk}, rng, dt, 0.0, 0.5).to(f64) : Tensor();
  Tensor z0 = with_states ? simplex({BH, Dk}, rng, dt).to(f64) : Tensor();
  Tensor gy = Tensor::randn({BH * T, Dv}, rng, dt).to(f64);
  Tensor gWT = with_states ? Tensor::randn({BH, Dv, Dk}, rng, dt).to(f64) : Tensor();
  Tensor gzT = with_states ? Tensor::randn({BH, Dk}, rng, dt).to(f64) : Tensor();

  Tensor y = Tensor::empty({BH * T, Dv}, f64), WT = Tensor::empty({BH, Dv, Dk}, f64),
         zT = Tensor::empty({BH, Dk}, f64), den = Tensor::empty({BH * T}, f64);
  kernels::sum_rule_forward_naive<double>(ptr<double>(y), ptr<double>(WT), ptr<double>(zT),
                                          ptr<double>(den), ptr<double>(q), ptr<double>(k),
                                          ptr<double>(v), ptr<double>(W0), ptr<double>(z0),
                                          normalize, eps, BH, T, Dk, Dv);
  Tensor dq = Tensor::empty({BH * T, Dk}, f64), dk = Tensor::empty({BH * T, Dk}, f64),
         dv = Tensor::empty({BH * T, Dv}, f64), dW0 = Tensor::empty({BH, Dv, Dk}, f64),
         dz0 = Tensor::empty({BH, Dk}, f64);
  kernels::sum_rule_backward_naive<double>(
      ptr<double>(dq), ptr<double>(dk), ptr<double>(dv), ptr<double>(dW0), ptr<double>(dz0),
      ptr<double>(gy), ptr<double>(gWT), ptr<double>(gzT), ptr<double>(q), ptr<double>(k),
      ptr<double>(v), ptr<double>(W0), ptr<double>(z0), ptr<double>(y), ptr<double>(den),
      normalize, BH, T, Dk, Dv);

  auto dev = [&](const Tensor& t) { return t.defined() ? t.to(dt).to(Device::cuda) : Tensor(); };
  auto out = [&](const Shape& s) { return Tensor::empty(s, dt, Device::cuda); };
  Tensor q_ = dev(q), k_ = dev(k), v_ = dev(v), W0_ = dev(W0), z0_ = dev(z0), gy_ = dev(gy),
         gWT_ = dev(gWT), gzT_ = dev(gzT);
  Tensor y_ = out({BH * T, Dv}), WT_ = out({BH, Dv, Dk}), zT_ = out({BH, Dk}),
         den_ = out({BH * T});
  kernels::sum_rule_forward_cuda<Real>(ptr<Real>(y_), ptr<Real>(WT_), ptr<Real>(zT_),
                                       ptr<Real>(den_), ptr<Real>(q_), ptr<Real>(k_),
                                       ptr<Real>(v_), ptr<Real>(W0_), ptr<Real>(z0_), normalize,
                                       Real(eps), BH, T, Dk, Dv, nullptr);
  check_close(y_, y, tol, "y");
  check_close(WT_, WT, tol, "W_T");
  check_close(zT_, zT, tol, "z_T");
  if (normalize) check_close(den_, den, tol, "den");
  Tensor ws = out({std::max<int64_t>(1, kernels::sum_rule_workspace_size_cuda<Real>(BH, T, Dk, Dv))});
  Tensor dq_ = out({BH * T, Dk}), dk_ = out({BH * T, Dk}), dv_ = out({BH * T, Dv}),
         dW0_ = out({BH, Dv, Dk}), dz0_ = out({BH, Dk});
  kernels::sum_rule_backward_cuda<Real>(
      ptr<Real>(dq_), ptr<Real>(dk_), ptr<Real>(dv_), ptr<Real>(dW0_), ptr<Real>(dz0_),
      ptr<Real>(gy_), ptr<Real>(gWT_), ptr<Real>(gzT_), ptr<Real>(q_), ptr<Real>(k_),
      ptr<Real>(v_), ptr<Real>(W0_), ptr<Real>(z0_), ptr<Real>(y_),
      normalize ? ptr<Real>(den_) : nullptr, normalize, BH, T, Dk, Dv, ptr<Real>(ws));
  check_close(dq_, dq, tol, "dq");
  check_close(dk_, dk, tol, "dk");
  check_close(dv_, dv, tol, "dv");
  check_close(dW0_, dW0, tol, "dW0");
  check_close(dz0_, dz0, tol, "dz0");
}

}  // namespace

TEST_CASE("cuda: sum rule forward and backward against the f64 reference, model sizes",
          "[cuda]") {
  FWP_CUDA_OR_SKIP();
  const std::vector<Case> cases = {{2, 64, 16, 16}, {2, 64, 32, 32},  {1, 64, 64, 64},
                                   {2, 33, 96, 16}, {1, 33, 128, 32}, {1, 17, 128, 128},
                                   {1, 17, 256, 64}};
  for (const Case& c : cases) check_sum_cuda<float>(c, true, true, 2e-5);
}

TEST_CASE("cuda: sum rule at odd sizes, unnormalised, without states, and in f64", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  check_sum_cuda<float>({3, 7, 5, 3}, false, false, 2e-5);
  check_sum_cuda<float>({2, 5, 17, 33}, true, false, 2e-5);
  check_sum_cuda<float>({1, 3, 33, 1}, false, true, 2e-5);
  check_sum_cuda<float>({2, 0, 4, 4}, true, true, 2e-5);
  check_sum_cuda<float>({2, 3, 6, 0}, true, true, 2e-5);
  check_sum_cuda<double>({2, 9, 17, 33}, true, true, 1e-12);
}
