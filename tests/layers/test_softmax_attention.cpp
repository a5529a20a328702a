// The fused softmax-attention op (autograd/softmax_attention.h): its kernels against their naive
// twins, its hand-derived backward against finite differences in f64 and against the composed
// version (layers/attention.h, softmax_attention_composed), what it keeps for the backward,
// fully masked queries, and its errors.
#include "tests/catch.h"
#include "tests/simd_copies.h"

#include <cmath>

#include "autograd/gradcheck.h"
#include "autograd/softmax_attention.h"
#include "kernels/softmax_attention.h"
#include "layers/attention.h"
#include "tests/fused_vs_reference.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::HasSubstr;

namespace {

// One attention problem: sizes and mask. key_valid rows: batch b masks key j when (b + j) % 3
// == 2, and with all_masked_batch, batch 0 masks every key.
struct Case {
  int64_t B, H, T, S, Dk, Dv;
  bool causal;
  int64_t offset;
  bool padded;
  bool all_masked_batch = false;
};

Tensor key_valid_of(const Case& c) {
  if (!c.padded) return Tensor();
  std::vector<double> m(c.B * c.S);
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t j = 0; j < c.S; ++j)
      m[b * c.S + j] = (c.all_masked_batch && b == 0) || (b + j) % 3 == 2 ? 0.0 : 1.0;
  return Tensor::from_vector(m, {c.B, c.S}, DType::f64);
}

std::vector<Tensor> inputs_of(const Case& c, uint64_t seed, DType dt) {
  Rng rng(seed);
  return {Tensor::randn({c.B, c.H, c.T, c.Dk}, rng, dt), Tensor::randn({c.B, c.H, c.S, c.Dk}, rng, dt),
          Tensor::randn({c.B, c.H, c.S, c.Dv}, rng, dt)};
}

const std::vector<Case> kCases = {
    {1, 1, 1, 1, 1, 1, true, 0, false},
    {2, 3, 5, 5, 3, 7, true, 0, false},     // odd sizes, causal
    {1, 2, 70, 70, 16, 16, true, 0, false},  // more than one block of 64 query rows
    {2, 1, 4, 7, 5, 3, true, 3, false},     // generation: 3 earlier keys before the first query
    {3, 2, 4, 9, 20, 5, false, 0, true},    // cross attention over padded keys
    {2, 2, 6, 6, 4, 4, true, 0, true, true},  // batch 0 sees no key at all
};

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

std::vector<Variable> fused(const Case& c, const std::vector<Variable>& x) {
  return {fused_softmax_attention(x[0], x[1], x[2], c.causal, c.offset, key_valid_of(c))};
}
std::vector<Variable> composed(const Case& c, const std::vector<Variable>& x) {
  return {softmax_attention_composed(x[0], x[1], x[2], c.causal, c.offset, key_valid_of(c))};
}

}  // namespace

TEST_CASE("fused softmax attention kernels match their naive twins", "[softmax_attention]") {
  FWP_FOR_EACH_SIMD_COPY();
  for (const Case& c : kCases) {
    INFO("B " << c.B << " H " << c.H << " T " << c.T << " S " << c.S << " Dk " << c.Dk << " Dv "
              << c.Dv << " causal " << c.causal << " offset " << c.offset << " padded " << c.padded);
    check_kernels<double>(c, 1e-12);
    check_kernels<float>(c, 2e-5);
  }
}

TEST_CASE("fused softmax attention passes an f64 finite-difference check", "[softmax_attention]") {
  for (const Case& c : kCases) {
    if (c.T * c.S > 100) continue;  // tiny shapes only
    INFO("T " << c.T << " S " << c.S << " causal " << c.causal << " offset " << c.offset);
    GradcheckResult r = gradcheck_multi([&](const std::vector<Variable>& x) { return fused(c, x); },
                                        inputs_of(c, 3, DType::f64));
    CHECK(r.ok);
    INFO(r.message);
  }
}

TEST_CASE("fused softmax attention equals the composed version, f64 and f32", "[softmax_attention]") {
  FWP_FOR_EACH_SIMD_COPY();
  for (const Case& c : kCases) {
    INFO("T " << c.T << " S " << c.S << " causal " << c.causal << " offset " << c.offset
              << " padded " << c.padded);
    auto f = [&](const std::vector<Variable>& x) { return fused(c, x); };
    auto ref = [&](const std::vector<Variable>& x) { return composed(c, x); };
    fwp_test::compare(f, ref, inputs_of(c, 11, DType::f64), 1e-10);
    fwp_test::compare(f, ref, inputs_of(c, 11, DType::f32), 1e-5);
  }
}

TEST_CASE("fused softmax attention keeps O(T) per head, the composed one O(T S)", "[softmax_attention]") {
  const Case c{2, 4, 96, 96, 16, 16, true, 0, false};
  const std::vector<Tensor> in = inputs_of(c, 5, DType::f32);
  const int64_t kept_fused = fwp_test::bytes_kept([&](const std::vector<Variable>& x) { return fused(c, x); }, in);
  const int64_t kept_composed =
      fwp_test::bytes_kept([&](const std::vector<Variable>& x) { return composed(c, x); }, in);
  const int64_t y_bytes = c.B * c.H * c.T * c.Dv * 4, lse_bytes = c.B * c.H * c.T * 4;
  const int64_t scores_bytes = c.B * c.H * c.T * c.S * 4;
  CHECK(kept_fused <= y_bytes + lse_bytes + 4096);  // the output and one number per query
  CHECK(kept_composed >= scores_bytes);              // at least one (B, H, T, S) tensor
}

TEST_CASE("fused softmax attention gives zeros and zero gradients to queries that see no key",
          "[softmax_attention]") {
  FWP_FOR_EACH_SIMD_COPY();
  const Case c{2, 1, 3, 4, 2, 3, false, 0, true, true};  // batch 0: every key masked
  std::vector<Variable> x;
  for (const Tensor& t : inputs_of(c, 2, DType::f64)) x.emplace_back(t, true);
  Variable y = fused(c, x)[0];
  backward({y}, {Tensor::ones(y.shape(), DType::f64)});
  const std::vector<double> yv = y.value().to_vector(), dq = x[0].grad().to_vector();
  const std::vector<double> dk = x[1].grad().to_vector(), dv = x[2].grad().to_vector();
  for (int64_t i = 0; i < c.T * c.Dv; ++i) CHECK(yv[i] == 0.0);   // batch 0's outputs
  for (int64_t i = 0; i < c.T * c.Dk; ++i) CHECK(dq[i] == 0.0);
  for (int64_t i = 0; i < c.S * c.Dk; ++i) CHECK(dk[i] == 0.0);
  for (int64_t i = 0; i < c.S * c.Dv; ++i) CHECK(dv[i] == 0.0);
  for (double g : dq) CHECK(std::isfinite(g));
}

TEST_CASE("fused softmax attention names the bad argument and its shapes", "[softmax_attention]") {
  Variable q(Tensor::zeros({1, 2, 3, 4}, DType::f64)), k(Tensor::zeros({1, 2, 5, 4}, DType::f64));
  Variable v(Tensor::zeros({1, 2, 5, 6}, DType::f64));
  REQUIRE_THROWS_AS(fused_softmax_attention(q, Variable(Tensor::zeros({1, 2, 5, 3}, DType::f64)), v,
                                            true, 0, Tensor()),
                    ShapeError);
  REQUIRE_THROWS_WITH(fused_softmax_attention(q, k, Variable(Tensor::zeros({1, 2, 4, 6}, DType::f64)),
                                              true, 0, Tensor()),
                      HasSubstr("v must be (B, H, S, Dv)"));
  REQUIRE_THROWS_WITH(fused_softmax_attention(q, k, v, false, 0, Tensor::ones({1, 4}, DType::f64)),
                      HasSubstr("key_valid must be (B, S) = (1, 5), got (1, 4)"));
  REQUIRE_THROWS_WITH(fused_softmax_attention(q, k, Variable(Tensor::zeros({1, 2, 5, 6}, DType::f32)),
                                              false, 0, Tensor()),
                      HasSubstr("share a dtype"));
  REQUIRE_THROWS_WITH(fused_softmax_attention(q, k, v, true, -1, Tensor()),
                      HasSubstr("offset must be >= 0"));
}
