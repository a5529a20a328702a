// Fused softmax attention on the GPU (kernels/cuda/softmax_attention_cuda.cu) against the CPU's
// naive twin in f64: the attention problems of tests/softmax_attention_cases.h (causal, offsets,
// padded keys, a batch that sees no key at all) plus wider heads, values and every gradient.
#include <cmath>
#include <vector>

#include "kernels/softmax_attention.h"
#include "tests/cuda/cuda_test.h"
#include "tests/softmax_attention_cases.h"

using namespace fwp;
using fwp_test::Case;
using fwp_test::check_close;

namespace {

template <typename Real>
Real* ptr(Tensor& t) {
  return t.defined() ? t.data<Real>() : nullptr;
}

template <typename Real>
void check_attention_cuda(const Case& c, double tol) {
  INFO("B=" << c.B << " H=" << c.H << " T=" << c.T << " S=" << c.S << " Dk=" << c.Dk
            << " Dv=" << c.Dv << " causal=" << c.causal << " offset=" << c.offset
            << " padded=" << c.padded << " dtype " << dtype_of<Real>());
  const DType f64 = DType::f64, dt = dtype_of<Real>();
  const int64_t BH = c.B * c.H;
  auto in = fwp_test::inputs_of(c, 7 + c.T * 13 + c.Dk, dt);
  Tensor q = in[0].to(f64), k = in[1].to(f64), v = in[2].to(f64);
  Rng rng(99);
  Tensor g = Tensor::randn({BH * c.T, c.Dv}, rng, dt).to(f64);
  Tensor keep = fwp_test::key_valid_of(c);  // f64 on the cpu, or undefined
  const double scale = 1.0 / std::sqrt(double(c.Dk));
  kernels::AttentionMask<double> m64{c.causal, c.offset, keep.defined() ? keep.data<double>() : nullptr, c.H};

  Tensor y = Tensor::empty({BH * c.T, c.Dv}, f64), lse = Tensor::empty({BH * c.T}, f64);
  kernels::softmax_attention_forward_naive<double>(ptr<double>(y), ptr<double>(lse), ptr<double>(q),
                                                   ptr<double>(k), ptr<double>(v), m64, scale, BH,
                                                   c.T, c.S, c.Dk, c.Dv);
  Tensor dq = Tensor::empty({BH * c.T, c.Dk}, f64), dk = Tensor::empty({BH * c.S, c.Dk}, f64),
         dv = Tensor::empty({BH * c.S, c.Dv}, f64);
  kernels::softmax_attention_backward_naive<double>(
      ptr<double>(dq), ptr<double>(dk), ptr<double>(dv), ptr<double>(g), ptr<double>(q),
      ptr<double>(k), ptr<double>(v), ptr<double>(y), ptr<double>(lse), m64, scale, BH, c.T, c.S,
      c.Dk, c.Dv);

  auto dev = [&](const Tensor& t) { return t.defined() ? t.to(dt).to(Device::cuda) : Tensor(); };
  auto out = [&](const Shape& s) { return Tensor::empty(s, dt, Device::cuda); };
  Tensor q_ = dev(q), k_ = dev(k), v_ = dev(v), g_ = dev(g), keep_ = dev(keep);
  kernels::AttentionMask<Real> m{c.causal, c.offset, ptr<Real>(keep_), c.H};
  Tensor y_ = out({BH * c.T, c.Dv}), lse_ = out({BH * c.T});
  kernels::softmax_attention_forward_cuda<Real>(ptr<Real>(y_), ptr<Real>(lse_), ptr<Real>(q_),
                                                ptr<Real>(k_), ptr<Real>(v_), m, Real(scale), BH,
                                                c.T, c.S, c.Dk, c.Dv, nullptr);
  check_close(y_, y, tol, "y");
  // lse: -inf where a query sees no key, on both sides
  const auto l_ref = lse.to_vector(), l_got = lse_.to_vector();
  for (size_t i = 0; i < l_ref.size(); ++i) {
    INFO("lse[" << i << "]");
    if (std::isinf(l_ref[i]))
      CHECK(l_got[i] == l_ref[i]);
    else
      CHECK(std::abs(l_got[i] - l_ref[i]) <= tol * std::max(1.0, std::abs(l_ref[i])));
  }
  Tensor ws = out({std::max<int64_t>(
      1, kernels::softmax_attention_workspace_size_cuda<Real>(BH, c.T, c.S, c.Dk, c.Dv))});
  Tensor dq_ = out({BH * c.T, c.Dk}), dk_ = out({BH * c.S, c.Dk}), dv_ = out({BH * c.S, c.Dv});
  kernels::softmax_attention_backward_cuda<Real>(
      ptr<Real>(dq_), ptr<Real>(dk_), ptr<Real>(dv_), ptr<Real>(g_), ptr<Real>(q_), ptr<Real>(k_),
      ptr<Real>(v_), ptr<Real>(y_), ptr<Real>(lse_), m, Real(scale), BH, c.T, c.S, c.Dk, c.Dv,
      ptr<Real>(ws));
  check_close(dq_, dq, tol, "dq");
  check_close(dk_, dk, tol, "dk");
  check_close(dv_, dv, tol, "dv");
}

}  // namespace

TEST_CASE("cuda: fused softmax attention against the f64 reference, masks and odd sizes",
          "[cuda]") {
  FWP_CUDA_OR_SKIP();
  for (const Case& c : fwp_test::kCases) check_attention_cuda<float>(c, 2e-5);
  for (const Case& c : fwp_test::kCases) check_attention_cuda<double>(c, 1e-12);
}

TEST_CASE("cuda: fused softmax attention, wide heads", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  const std::vector<Case> wide = {{1, 2, 17, 17, 64, 64, true, 0, false},
                                  {2, 1, 9, 33, 128, 32, false, 0, true},
                                  {1, 1, 5, 5, 256, 64, true, 0, false},
                                  {1, 1, 3, 6, 33, 256, true, 3, false}};
  for (const Case& c : wide) check_attention_cuda<float>(c, 2e-5);
}
