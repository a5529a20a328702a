// The fused softmax-attention op (autograd/softmax_attention_op.h): its kernels against their naive
// twins, its hand-derived backward against finite differences in f64 and against the composed
// version (layers/attention.h, softmax_attention_composed), what it keeps for the backward,
// fully masked queries, and its errors.
#include "tests/catch.h"
#include "tests/simd_copies.h"
#include "tests/softmax_attention_cases.h"

#include <cmath>

#include "autograd/gradcheck.h"
#include "autograd/softmax_attention_op.h"
#include "kernels/softmax_attention.h"
#include "layers/attention.h"
#include "tests/fused_vs_reference.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::HasSubstr;
using fwp_test::Case;
using fwp_test::inputs_of;
using fwp_test::kCases;
using fwp_test::key_valid_of;

namespace {

std::vector<Variable> fused(const Case& c, const std::vector<Variable>& x) {
  return {fused_softmax_attention(x[0], x[1], x[2], c.causal, c.offset, key_valid_of(c))};
}
std::vector<Variable> composed(const Case& c, const std::vector<Variable>& x) {
  return {softmax_attention_composed(x[0], x[1], x[2], c.causal, c.offset, key_valid_of(c))};
}

}  // namespace

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

TEST_CASE("fused softmax attention equals the composed version, f64 and f32", "[softmax_attention][simd]") {
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
          "[softmax_attention][simd]") {
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
