// The chunkwise delta rule as an op (autograd/delta_chunk_op.h): values and every gradient against
// the sequential op (random upstream gradients on y and W_T, non-zero W0, T not a multiple of
// C, non-square heads), f64 finite differences, the composed reference, the memory it keeps,
// the mixed plan (sequential forward, chunkwise backward), the algorithm setting and its
// errors. Tolerances, relative to each tensor's largest entry: f64 1e-10; f32 1e-5 (see the
// T = 1000 test).
#include "tests/catch.h"

#include <omp.h>

#include <cmath>

#include "autograd/delta_chunk_op.h"
#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "core/functional.h"
#include "tests/fast_weight_inputs.h"
#include "tests/fused_vs_reference.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::Fn;
using fwp_test::HasSubstr;
using fwp_test::simplex;
using V = std::vector<Variable>;

namespace {

// Keys and queries on the simplex (as the layers feed them), beta in (0.1, 0.9), W0 ~ N(0, 0.5).
std::vector<Tensor> make_inputs(int64_t B, int64_t H, int64_t T, int64_t Dk, int64_t Dv, DType dt,
                                uint64_t seed) {
  Rng rng(seed);
  Tensor q = simplex({B, H, T, Dk}, rng, dt), k = simplex({B, H, T, Dk}, rng, dt);
  Tensor v = Tensor::randn({B, H, T, Dv}, rng, dt);
  Tensor beta = Tensor::uniform({B, H, T}, rng, 0.1, 0.9, dt);
  Tensor W0 = Tensor::randn({B, H, Dv, Dk}, rng, dt, 0.0, 0.5);
  return {q, k, v, beta, W0};
}

Fn chunkwise(int64_t C) {
  return [C](const V& x) {
    DeltaRuleResult r = delta_rule_chunkwise(x[0], x[1], x[2], x[3], x.size() > 4 ? x[4] : Variable(), C);
    return V{r.y, r.state};
  };
}
// delta_rule() under a given setting
Fn with_setting(DeltaRuleAlgorithm a, int64_t C = 0) {
  return [a, C](const V& x) {
    DeltaRuleAlgorithmGuard guard(a, C);
    DeltaRuleResult r = delta_rule(x[0], x[1], x[2], x[3], x.size() > 4 ? x[4] : Variable());
    return V{r.y, r.state};
  };
}

// Outputs (y, W_T), then the gradients of the inputs, after backpropagating random upstream
// gradients (seeded) into both outputs.
std::vector<Tensor> run(const Fn& f, const std::vector<Tensor>& inputs) {
  return fwp_test::outputs_and_grads(f, inputs, 99);
}

const char* kItems[7] = {"y", "W_T", "dq", "dk", "dv", "dbeta", "dW0"};

// max |a - b| / max |b| over each item, the worst item's value returned; checks <= tol.
double compare(const std::vector<Tensor>& a, const std::vector<Tensor>& b, double tol) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double scale = 0;
    for (double x : b[i].to_vector()) scale = std::max(scale, std::abs(x));
    INFO(kItems[i]);
    CHECK_THAT(a[i], AllClose(b[i], tol * scale, 0));
    std::vector<double> x = a[i].to_vector(), y = b[i].to_vector();
    for (size_t e = 0; e < x.size(); ++e) worst = std::max(worst, std::abs(x[e] - y[e]) / scale);
  }
  return worst;
}

bool bit_equal(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].to_vector() != b[i].to_vector()) return false;
  return true;
}

}  // namespace

TEST_CASE("delta_rule_chunkwise equals the sequential delta_rule, every gradient",
          "[autograd][delta_chunk]") {
  struct Head {
    int64_t Dk, Dv;
  };
  for (int64_t T : {1, 57, 211})
    for (Head h : {Head{48, 16}, Head{32, 64}, Head{5, 3}})
      for (int64_t C : {16, 32, 64}) {
        INFO("T=" << T << " Ddot=" << h.Dk << " Dv=" << h.Dv << " C=" << C);
        std::vector<Tensor> in = make_inputs(1, 2, T, h.Dk, h.Dv, DType::f64, 7 + T + C);
        compare(run(chunkwise(C), in), run(with_setting(DeltaRuleAlgorithm::sequential), in), 1e-10);
      }
  // no W0; C not a multiple of the vector width; a chunk longer than the sequence
  std::vector<Tensor> in = make_inputs(2, 1, 9, 6, 4, DType::f64, 3);
  in.pop_back();
  for (int64_t C : {1, 5, 20})
    compare(run(chunkwise(C), in), run(with_setting(DeltaRuleAlgorithm::sequential), in), 1e-10);
}

TEST_CASE("delta_rule_chunkwise equals delta_rule_reference", "[autograd][delta_chunk]") {
  std::vector<Tensor> in = make_inputs(1, 2, 13, 7, 5, DType::f64, 5);
  Fn reference = [](const V& x) {
    DeltaRuleResult r = delta_rule_reference(x[0], x[1], x[2], x[3], x[4]);
    return V{r.y, r.state};
  };
  compare(run(chunkwise(4), in), run(reference, in), 1e-10);
}

// f32 against the f64 sequential op at T = 1000. Heuristic bound: the chunkwise algorithm sums
// the same products in another order; along any chain of dependencies there are at most
// n = T (Ddot + 2) roundings across chunks (as in the sequential recurrence; I - beta k k^T is
// non-expansive for sum-normalised keys, so nothing amplifies them) plus C (Ddot + C) inside a
// chunk (Gram matrix, triangular solve, products), and the probabilistic bound sqrt(n) u
// (Higham and Mary 2019) gives sqrt(1000 * 18 + 64 * 80) * 6e-8 = 9.1e-6 for Ddot = 16, C = 64.
// The test asks for 1e-5; measured: 3.7e-7 (C = 16), 5.6e-7 (C = 64), and 1.2e-6 for the
// sequential kernels in f32.
TEST_CASE("delta_rule_chunkwise in f32 at T = 1000 stays within 1e-5 of f64",
          "[autograd][delta_chunk]") {
  std::vector<Tensor> in64 = make_inputs(1, 2, 1000, 16, 16, DType::f64, 31), in32;
  for (const Tensor& t : in64) in32.push_back(t.to(DType::f32));
  std::vector<Tensor> ref = run(with_setting(DeltaRuleAlgorithm::sequential), in64);
  for (int64_t C : {16, 64}) {
    const double chunk_err = compare(run(chunkwise(C), in32), ref, 1e-5);
    const double seq_err = compare(run(with_setting(DeltaRuleAlgorithm::sequential), in32), ref, 1e-5);
    INFO("C=" << C << ": worst relative error chunkwise " << chunk_err << ", sequential " << seq_err);
    CHECK(chunk_err < 1e-5);
  }
}

TEST_CASE("gradcheck delta_rule_chunkwise", "[autograd][delta_chunk][gradcheck]") {
  std::vector<Tensor> in = make_inputs(1, 2, 7, 3, 5, DType::f64, 21);
  for (int64_t C : {3, 16}) {  // a short last chunk; one chunk for the whole sequence
    auto r = gradcheck_multi(chunkwise(C), in);
    INFO("C=" << C << ": " << r.message);
    CHECK(r.ok);
  }
  std::vector<Tensor> in2 = make_inputs(1, 1, 5, 4, 1, DType::f64, 22);
  in2.pop_back();  // no W0
  auto r = gradcheck_multi(chunkwise(2), in2);
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("the mixed plan (sequential forward, chunkwise backward) equals the sequential op",
          "[autograd][delta_chunk]") {
  std::vector<Tensor> in = make_inputs(2, 1, 45, 12, 20, DType::f64, 8);
  Fn mixed = [](const V& x) {
    DeltaRuleResult r = delta_rule_with_plan(x[0], x[1], x[2], x[3], x[4], {false, true, 8});
    return V{r.y, r.state};
  };
  std::vector<Tensor> a = run(mixed, in), b = run(with_setting(DeltaRuleAlgorithm::sequential), in);
  compare(a, b, 1e-10);
  for (int i = 0; i < 2; ++i) CHECK(a[i].to_vector() == b[i].to_vector());  // the same forward
}

TEST_CASE("the delta rule setting chooses the kernels of delta_rule()", "[autograd][delta_chunk]") {
  std::vector<Tensor> in = make_inputs(1, 3, 50, 16, 16, DType::f32, 9);
  std::vector<Tensor> seq = run(with_setting(DeltaRuleAlgorithm::sequential), in);
  std::vector<Tensor> chunk = run(with_setting(DeltaRuleAlgorithm::chunkwise, 16), in);
  CHECK(bit_equal(chunk, run(chunkwise(16), in)));
  CHECK_FALSE(bit_equal(chunk, seq));  // the two algorithms round differently: the test can fail
  compare(chunk, seq, 1e-5);
  // automatic: whatever the plan says, bit for bit, and close to the sequential op; the table
  // keeps d = 16 sequential and gives (Ddot, Dv) = (96, 64), T = 1024 the chunkwise backward
  struct Shape3 {
    int64_t T, Dk, Dv;
  };
  for (Shape3 s : {Shape3{40, 16, 16}, Shape3{1024, 96, 64}}) {
    std::vector<Tensor> x = make_inputs(1, 1, s.T, s.Dk, s.Dv, DType::f32, 10 + s.Dk);
    const DeltaRulePlan plan = delta_rule_plan(s.T, s.Dk, s.Dv, true, DType::f32);
    INFO("T=" << s.T << " Ddot=" << s.Dk << " Dv=" << s.Dv << " plan: chunk_forward="
              << plan.chunk_forward << " chunk_backward=" << plan.chunk_backward << " C=" << plan.chunk);
    CHECK(plan.uses_chunks() == (s.Dk == 96));
    Fn planned = [plan](const V& v) {
      DeltaRuleAlgorithmGuard guard(DeltaRuleAlgorithm::sequential);
      DeltaRuleResult r = plan.uses_chunks() ? delta_rule_with_plan(v[0], v[1], v[2], v[3], v[4], plan)
                                             : delta_rule(v[0], v[1], v[2], v[3], v[4]);
      return V{r.y, r.state};
    };
    std::vector<Tensor> autom = run(with_setting(DeltaRuleAlgorithm::automatic), x);
    CHECK(bit_equal(autom, run(planned, x)));
    compare(autom, run(with_setting(DeltaRuleAlgorithm::sequential), x), 1e-5);
  }
  CHECK_FALSE(delta_rule_plan(4096, 96, 64, false, DType::f32).uses_chunks());  // no backward
  {  // a chunk size given with the setting overrides the default
    DeltaRuleAlgorithmGuard guard(DeltaRuleAlgorithm::chunkwise, 24);
    CHECK(delta_rule_plan(100, 64, 64, true, DType::f32).chunk == 24);
    CHECK(delta_rule_plan(100, 64, 64, false, DType::f32).chunk_forward);
  }
  {
    DeltaRuleAlgorithmGuard guard(DeltaRuleAlgorithm::sequential);
    CHECK_FALSE(delta_rule_plan(4096, 256, 256, true, DType::f32).uses_chunks());
  }
  CHECK(delta_rule_plan(4096, 256, 256, true, DType::f32).chunk_backward);  // automatic again
  CHECK(delta_rule_algorithm() == DeltaRuleAlgorithm::automatic);  // guards restored it
}

TEST_CASE("delta_rule_chunkwise keeps O(T Dv) for its backward", "[autograd][delta_chunk]") {
  const int64_t B = 2, H = 2, T = 33, Dk = 24, Dv = 8;
  std::vector<Tensor> in = make_inputs(B, H, T, Dk, Dv, DType::f32, 2);
  // kept: y, W_T and the saved u; q, k, v, beta are the inputs' own storage
  CHECK(fwp_test::bytes_kept(chunkwise(16), in) ==
        int64_t(sizeof(float)) * (2 * B * H * T * Dv + B * H * Dv * Dk));
}

TEST_CASE("delta_rule_chunkwise and the setting report bad arguments", "[autograd][delta_chunk]") {
  std::vector<Tensor> in = make_inputs(1, 2, 5, 3, 4, DType::f64, 1);
  Variable q(in[0]), k(in[1]), v(in[2]), beta(in[3]), W0(in[4]);
  for (int64_t C : {0, -3, 2000})
    REQUIRE_THROWS_WITH(delta_rule_chunkwise(q, k, v, beta, W0, C),
                        HasSubstr("delta_rule_chunkwise: chunk size must be in [1, 1024], got chunk=" +
                                  std::to_string(C)));
  REQUIRE_THROWS_WITH(delta_rule_chunkwise(q, Variable(Tensor::zeros({1, 2, 5, 6}, DType::f64)), v, beta, W0, 8),
                      HasSubstr("delta_rule_chunkwise: k must have the shape of q (B, H, T, Ddot), "
                                "got q=(1, 2, 5, 3) and k=(1, 2, 5, 6)"));
  REQUIRE_THROWS_WITH(delta_rule_chunkwise(q, k, v, beta, Variable(Tensor::zeros({1, 2, 3, 4}, DType::f64)), 8),
                      HasSubstr("delta_rule_chunkwise: W0 must be (B, H, Dv, Ddot) = (1, 2, 4, 3), "
                                "got W0=(1, 2, 3, 4)"));
  REQUIRE_THROWS_WITH(delta_rule_chunkwise(q, k, v, Variable(), W0, 8),
                      HasSubstr("delta_rule_chunkwise: beta must be defined"));
  REQUIRE_THROWS_WITH(set_delta_rule_algorithm(DeltaRuleAlgorithm::chunkwise, -1),
                      HasSubstr("set_delta_rule_algorithm: chunk size must be 0 (the table's) or "
                                "in [1, 1024], got chunk=-1"));
  CHECK(delta_rule_algorithm() == DeltaRuleAlgorithm::automatic);  // unchanged by the failed call
}
