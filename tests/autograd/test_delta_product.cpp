// The DeltaProduct op (autograd/delta_product_op.h), three ways: f64 finite differences, values and
// every gradient against the plainly composed reference, and against the delta rule it is made
// of (n_h = 1 is the delta rule; n_h writes per token are a delta rule over T n_h steps that is
// read after every n_h-th). Then unused outputs, argument errors and the f32 drift.
#include "tests/catch.h"

#include "autograd/delta_product_op.h"
#include "autograd/fast_weight_op.h"
#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "tests/fast_weight_inputs.h"
#include "tests/fused_vs_reference.h"

using namespace fwp;
using fwp_test::Fn;
using fwp_test::HasSubstr;
using fwp_test::simplex;
using V = std::vector<Variable>;

namespace {

// q, k on the simplex (as the layers feed them), v ~ N(0, 1), beta in (0.1, 0.9), W0 ~ N(0, 0.5^2).
std::vector<Tensor> make_inputs(int64_t B, int64_t H, int64_t T, int64_t n, int64_t Dk,
                                int64_t Dv, DType dt, uint64_t seed, bool W0 = true) {
  Rng rng(seed);
  std::vector<Tensor> in = {simplex({B, H, T, Dk}, rng, dt), simplex({B, H, T * n, Dk}, rng, dt),
                            Tensor::randn({B, H, T * n, Dv}, rng, dt),
                            Tensor::uniform({B, H, T * n}, rng, 0.1, 0.9, dt)};
  if (W0) in.push_back(Tensor::randn({B, H, Dv, Dk}, rng, dt, 0.0, 0.5));
  return in;
}

// Inputs q, k, v, beta[, W0]; outputs y, W_T. read = false: write only, inputs k, v, beta[, W0],
// output W_T.
Fn product_fn(bool fused, int64_t n, bool read = true) {
  return [=](const V& x) {
    auto f = fused ? delta_product : delta_product_reference;
    const size_t o = read ? 1 : 0;  // where k is
    const Variable W0 = x.size() > o + 3 ? x[o + 3] : Variable();
    DeltaProductResult r = f(read ? x[0] : Variable(), x[o], x[o + 1], x[o + 2], n, W0);
    return read ? V{r.y, r.state} : V{r.state};
  };
}

std::vector<Tensor> without_q(std::vector<Tensor> in) {
  in.erase(in.begin());
  return in;
}

// The same math through the fused delta rule: T n steps whose query is q_t at the last write of
// token t and zero at the others, y_t read off those steps.
Fn interleaved_delta_fn(int64_t n) {
  return [=](const V& x) {
    const Variable& q = x[0];
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), Dk = q.size(3);
    std::vector<Variable> slots;
    for (int64_t j = 0; j + 1 < n; ++j) slots.emplace_back(Tensor::zeros({B, H, T, 1, Dk}, q.dtype()));
    slots.push_back(reshape(q, {B, H, T, 1, Dk}));
    Variable q_steps = reshape(concat(slots, 3), {B, H, T * n, Dk});
    DeltaRuleResult r = delta_rule(q_steps, x[1], x[2], x[3], x.size() > 4 ? x[4] : Variable());
    const int64_t Dv = r.y.size(3);
    Variable y = reshape(slice(reshape(r.y, {B, H, T, n, Dv}), 3, n - 1, n), {B, H, T, Dv});
    return V{y, r.state};
  };
}

const char* kItems = "outputs (y, W_T), then gradients of q, k, v, beta, W0";

}  // namespace

TEST_CASE("gradcheck delta_product", "[autograd][delta_product][gradcheck]") {
  for (int64_t n : {1, 2, 3}) {
    INFO("n_h = " << n);
    GradcheckResult r = gradcheck_multi(product_fn(true, n), make_inputs(1, 2, 4, n, 3, 5, DType::f64, 40 + n));
    INFO(r.message);
    CHECK(r.ok);
    GradcheckResult r2 = gradcheck_multi(product_fn(true, n),  // no W0
                                         make_inputs(2, 1, 5, n, 4, 3, DType::f64, 50 + n, false));
    INFO(r2.message);
    CHECK(r2.ok);
    GradcheckResult r3 = gradcheck_multi(product_fn(true, n, /*read=*/false),  // W_T only
                                         without_q(make_inputs(1, 1, 3, n, 3, 2, DType::f64, 60 + n)));
    INFO(r3.message);
    CHECK(r3.ok);
  }
}

TEST_CASE("delta_product equals delta_product_reference, values and every gradient",
          "[autograd][delta_product]") {
  struct Dims {
    int64_t Dk, Dv;
  };
  for (int64_t n : {1, 2, 4})
    for (int64_t T : {1, 7, 64})
      for (Dims d : {Dims{5, 3}, Dims{16, 16}, Dims{8, 20}}) {
        INFO("n_h " << n << " T " << T << " Dk " << d.Dk << " Dv " << d.Dv);
        const std::vector<Tensor> in = make_inputs(2, 2, T, n, d.Dk, d.Dv, DType::f64, T + n);
        fwp_test::compare(product_fn(true, n), product_fn(false, n), in, 1e-10, kItems);
        fwp_test::compare(product_fn(true, n, false), product_fn(false, n, false), without_q(in),
                          1e-10, "write only: W_T, then gradients of k, v, beta, W0");
        std::vector<Tensor> in32;
        for (const Tensor& t : in) in32.push_back(t.to(DType::f32));
        fwp_test::compare(product_fn(true, n), product_fn(false, n), in32, 1e-4, kItems);
      }
}

TEST_CASE("delta_product is the delta rule: n_h = 1, and n_h writes read every n_h-th step",
          "[autograd][delta_product]") {
  for (int64_t n : {1, 2, 3}) {
    INFO("n_h = " << n);
    const std::vector<Tensor> in = make_inputs(2, 3, 9, n, 6, 4, DType::f64, 70 + n);
    fwp_test::compare(product_fn(true, n), interleaved_delta_fn(n), in, 1e-12, kItems);
    if (n == 1) {
      auto delta = [](const V& x) {
        DeltaRuleResult r = delta_rule(x[0], x[1], x[2], x[3], x[4]);
        return V{r.y, r.state};
      };
      fwp_test::compare(product_fn(true, 1), delta, in, 1e-12, kItems);
    }
  }
}

TEST_CASE("delta_product names the argument and the shapes it rejects", "[autograd][delta_product]") {
  const std::vector<Tensor> in = make_inputs(1, 2, 3, 2, 4, 5, DType::f64, 80);
  const Variable q(in[0]), k(in[1]), v(in[2]), beta(in[3]);
  CHECK_THROWS_WITH(delta_product(q, k, v, beta, 0), HasSubstr("delta_product: n_h (writes per token) must be >= 1, got 0"));
  CHECK_THROWS_WITH(delta_product(q, k, v, beta, 4),
                    HasSubstr("k must be (B, H, T * n_h, Ddot) with n_h = 4 writes per token, got k=(1, 2, 6, 4)"));
  CHECK_THROWS_WITH(delta_product(q, k, v, beta, 3), HasSubstr("q must be (B, H, T, Ddot) = (1, 2, 2, 4)"));
  CHECK_THROWS_WITH(delta_product(q, k, v, slice(beta, 2, 0, 5), 2), HasSubstr("beta"));
  CHECK_THROWS_WITH(delta_product_reference(q, k, slice(v, 2, 0, 4), beta, 2), HasSubstr("v must be"));
  CHECK_THROWS_WITH(delta_product(q, k, v, beta, 2, Variable(Tensor::zeros({1, 2, 4, 5}, DType::f64))),
                    HasSubstr("W0 must be"));
}

TEST_CASE("delta_product in f32 stays close to f64 over a long sequence", "[autograd][delta_product]") {
  // T n = 2048 writes of simplex keys with beta < 0.9: each write contracts W along k, so the
  // forward's rounding errors do not grow; the backward's rebuild by subtraction adds about one
  // rounding error (~6e-8 relative) per write undone: 2048 of them stay below 1e-3 of the scale.
  const std::vector<Tensor> in = make_inputs(1, 2, 1024, 2, 16, 16, DType::f64, 90);
  fwp_test::check_f32_close_to_f64(product_fn(true, 2), in, 91, 1e-3, kItems);
}
