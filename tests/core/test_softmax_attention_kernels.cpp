// The fused softmax attention kernels (kernels/softmax_attention.h) against their naive twins, in
// every SIMD copy the CPU runs; the op itself is tested in tests/layers/test_softmax_attention.cpp.
#include <cmath>
#include <type_traits>

#include "kernels/softmax_attention.h"
#include "tests/catch.h"
#include "tests/simd_copies.h"
#include "tests/softmax_attention_cases.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::Case;
using fwp_test::inputs_of;
using fwp_test::kCases;
using fwp_test::key_valid_of;

namespace {

template <typename Real>
void check_kernels(const Case& c, double tol) {
  const DType dt = std::is_same_v<Real, float> ? DType::f32 : DType::f64;
  std::vector<Tensor> in = inputs_of(c, 7, dt);
  Rng rng(8);
  Tensor g = Tensor::randn({c.B, c.H, c.T, c.Dv}, rng, dt);
  Tensor keep = c.padded ? key_valid_of(c).to(dt) : Tensor();
  const kernels::AttentionMask<Real> mask{c.causal, c.offset, keep.defined() ? keep.data<Real>() : nullptr, c.H};
  const int64_t BH = c.B * c.H;
  const Real scale = Real(1 / std::sqrt(double(c.Dk)));
  auto outs = [&](bool fast) {
    Tensor y = Tensor::empty({c.B, c.H, c.T, c.Dv}, dt), lse = Tensor::empty({c.B, c.H, c.T}, dt);
    Tensor dq = Tensor::empty(in[0].shape(), dt), dk = Tensor::empty(in[1].shape(), dt);
    Tensor dv = Tensor::empty(in[2].shape(), dt);
    const Real *q = in[0].data<Real>(), *k = in[1].data<Real>(), *v = in[2].data<Real>();
    if (fast) {
      Tensor ws = Tensor::empty({kernels::softmax_attention_workspace_size<Real>(BH, c.T, c.S, c.Dk, c.Dv)}, dt);
      kernels::softmax_attention_forward_cpu<Real>(y.data<Real>(), lse.data<Real>(), q, k, v, mask,
                                                   scale, BH, c.T, c.S, c.Dk, c.Dv, ws.data<Real>());
      fwp_test::poison(ws);  // the forward's leftovers must not matter
      kernels::softmax_attention_backward_cpu<Real>(dq.data<Real>(), dk.data<Real>(), dv.data<Real>(),
                                                    g.data<Real>(), q, k, v, y.data<Real>(),
                                                    lse.data<Real>(), mask, scale, BH, c.T, c.S,
                                                    c.Dk, c.Dv, ws.data<Real>());
    } else {
      kernels::softmax_attention_forward_naive<Real>(y.data<Real>(), lse.data<Real>(), q, k, v, mask,
                                                     scale, BH, c.T, c.S, c.Dk, c.Dv);
      kernels::softmax_attention_backward_naive<Real>(dq.data<Real>(), dk.data<Real>(),
                                                      dv.data<Real>(), g.data<Real>(), q, k, v,
                                                      y.data<Real>(), lse.data<Real>(), mask, scale,
                                                      BH, c.T, c.S, c.Dk, c.Dv);
    }
    return std::vector<Tensor>{y, lse, dq, dk, dv};
  };
  std::vector<Tensor> fast = outs(true), naive = outs(false);
  // lse is -inf exactly for queries that see no key (AllClose calls inf - inf a mismatch)
  auto finite_lse = [](const Tensor& lse) {
    std::vector<double> v = lse.to_vector();
    for (double& x : v) x = x == -INFINITY ? -1e300 : x;
    return Tensor::from_vector(v, lse.shape(), DType::f64);
  };
  fast[1] = finite_lse(fast[1]);
  naive[1] = finite_lse(naive[1]);
  for (size_t i = 0; i < fast.size(); ++i) {
    INFO("y, lse, dq, dk, dv: item " << i);
    CHECK_THAT(fast[i], AllClose(naive[i], tol, tol));
  }
}

}  // namespace

TEST_CASE("fused softmax attention kernels match their naive twins", "[softmax_attention][simd]") {
  FWP_FOR_EACH_SIMD_COPY();
  for (const Case& c : kCases) {
    INFO("B " << c.B << " H " << c.H << " T " << c.T << " S " << c.S << " Dk " << c.Dk << " Dv "
              << c.Dv << " causal " << c.causal << " offset " << c.offset << " padded " << c.padded);
    check_kernels<double>(c, 1e-12);
    check_kernels<float>(c, 2e-5);
  }
}

