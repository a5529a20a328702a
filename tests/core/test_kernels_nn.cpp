// The nonlinearity, softmax, loss and nn kernels against their naive references, f32 and f64,
// on shapes that hit the edge cases (single elements, odd widths, threaded sizes), plus the
// vectorisable exp against std::exp.
#include <cfloat>
#include <limits>

#include "tests/catch.h"

#include "core/tensor.h"
#include "kernels/cpu/cross_entropy.h"
#include "kernels/cpu/cumsum.h"
#include "kernels/cpu/dropout.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/fast_exp.h"
#include "kernels/cpu/layernorm.h"
#include "kernels/cpu/masked_fill.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cpu/unary.h"

using namespace fwp;
using fwp_test::AllClose;

namespace {

// f32 results agree with the double-accumulating references to a few ulp; f64 to ~1e-13.
template <typename T> constexpr double kRtol = std::is_same_v<T, float> ? 2e-6 : 1e-13;
template <typename T> constexpr double kAtol = std::is_same_v<T, float> ? 1e-7 : 1e-15;

template <typename T>
Tensor rand_t(const Shape& s, Rng& rng, double lo = -1.0, double hi = 1.0) {
  return Tensor::uniform(s, rng, lo, hi, dtype_of<T>());
}

template <typename T>
void put(Tensor& t, int64_t i, double v) { t.data<T>()[i] = static_cast<T>(v); }

// AllClose counts inf - inf as a mismatch, so an infinity that the other tensor has at the same
// place (with the same sign) becomes 0 in both; any other infinity stays and fails the check.
Tensor finite_part(const Tensor& t, const Tensor& other) {
  std::vector<double> a = t.to_vector(), b = other.to_vector();
  for (size_t i = 0; i < a.size(); ++i)
    if (std::isinf(a[i]) && a[i] == b[i]) a[i] = 0.0;
  return Tensor::from_vector(a, t.shape(), DType::f64);
}
#define CHECK_CLOSE_INF(a, b, atol, rtol) \
  CHECK_THAT(finite_part(a, b), AllClose(finite_part(b, a), atol, rtol))

}  // namespace

TEST_CASE("fast_exp matches std::exp to about one ulp over the float range", "[kernels][unary]") {
  double worst_normal = 0.0, worst_tiny = 0.0;
  for (float x = -104.5f; x < 89.0f; x += 0.00731f) {
    const double ref = std::exp(double(x));
    const double got = kernels::fast_exp(x);
    if (ref >= FLT_MIN && ref <= FLT_MAX)
      worst_normal = std::max(worst_normal, std::abs(got - ref) / ref);
    else if (ref < FLT_MIN)
      worst_tiny = std::max(worst_tiny, std::abs(got - ref));
  }
  CHECK(worst_normal < 1.5e-7);        // float's ulp at 1 is 1.19e-7
  CHECK(worst_tiny <= 2.0 * 1.4e-45);  // denormal results: within two denormal steps
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(kernels::fast_exp(-inf) == 0.0f);
  CHECK(kernels::fast_exp(inf) == inf);
  CHECK(kernels::fast_exp(89.0f) == inf);
  CHECK(std::isnan(kernels::fast_exp(std::numeric_limits<float>::quiet_NaN())));
  CHECK(kernels::fast_exp(0.0f) == 1.0f);
  CHECK(kernels::fast_exp(-200.0f) == 0.0f);
}

TEMPLATE_TEST_CASE("unary kernels equal naive", "[kernels][unary]", float, double) {
  using T = TestType;
  using kernels::UnaryOp;
  Rng rng(11);
  for (int64_t n : {1, 7, 100003}) {  // the last one runs threaded
    for (UnaryOp op : {UnaryOp::exp, UnaryOp::log, UnaryOp::sqrt, UnaryOp::tanh, UnaryOp::sigmoid,
                       UnaryOp::relu, UnaryOp::elu, UnaryOp::square}) {
      const bool positive = op == UnaryOp::log || op == UnaryOp::sqrt;
      Tensor x = positive ? rand_t<T>({n}, rng, 0.01, 5.0) : rand_t<T>({n}, rng, -10.0, 10.0);
      Tensor g = rand_t<T>({n}, rng);
      Tensor y = Tensor::empty({n}, dtype_of<T>()), y_ref = y.clone();
      const T alpha = T(0.7);
      kernels::unary_forward<T>(y.data<T>(), x.data<T>(), op, alpha, n);
      kernels::unary_forward_naive<T>(y_ref.data<T>(), x.data<T>(), op, alpha, n);
      INFO("op " << int(op) << " n " << n);
      CHECK_THAT(y, AllClose(y_ref, kAtol<T>, kRtol<T>));
      Tensor dx = Tensor::empty({n}, dtype_of<T>()), dx_ref = dx.clone();
      kernels::unary_backward<T>(dx.data<T>(), g.data<T>(), x.data<T>(), y.data<T>(), op, alpha, n);
      kernels::unary_backward_naive<T>(dx_ref.data<T>(), g.data<T>(), x.data<T>(), y_ref.data<T>(),
                                       op, alpha, n);
      CHECK_THAT(dx, AllClose(dx_ref, kAtol<T>, kRtol<T>));
    }
  }
}

TEMPLATE_TEST_CASE("softmax and log_softmax kernels equal naive, masks included",
                   "[kernels][softmax]", float, double) {
  using T = TestType;
  Rng rng(12);
  const double inf = std::numeric_limits<double>::infinity();
  for (auto [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 1}, {3, 7}, {5, 1000}, {300, 257}}) {
    Tensor x = rand_t<T>({rows, cols}, rng, -5.0, 5.0);
    Tensor g = rand_t<T>({rows, cols}, rng);
    // a partly masked row (causal style) and, where there are several rows, a fully masked one
    for (int64_t j = 1; j < cols; ++j) put<T>(x, j, -inf);
    if (rows > 1)
      for (int64_t j = 0; j < cols; ++j) put<T>(x, cols + j, -inf);
    for (bool log : {false, true}) {
      Tensor y = Tensor::empty({rows, cols}, dtype_of<T>()), y_ref = y.clone();
      Tensor dx = y.clone(), dx_ref = y.clone();
      if (log) {
        kernels::log_softmax_forward<T>(y.data<T>(), x.data<T>(), rows, cols);
        kernels::log_softmax_forward_naive<T>(y_ref.data<T>(), x.data<T>(), rows, cols);
        kernels::log_softmax_backward<T>(dx.data<T>(), g.data<T>(), y.data<T>(), rows, cols);
        kernels::log_softmax_backward_naive<T>(dx_ref.data<T>(), g.data<T>(), y_ref.data<T>(), rows, cols);
      } else {
        kernels::softmax_forward<T>(y.data<T>(), x.data<T>(), rows, cols);
        kernels::softmax_forward_naive<T>(y_ref.data<T>(), x.data<T>(), rows, cols);
        kernels::softmax_backward<T>(dx.data<T>(), g.data<T>(), y.data<T>(), rows, cols);
        kernels::softmax_backward_naive<T>(dx_ref.data<T>(), g.data<T>(), y_ref.data<T>(), rows, cols);
      }
      INFO("log " << log << " rows " << rows << " cols " << cols);
      CHECK_CLOSE_INF(y, y_ref, kAtol<T>, kRtol<T>);
      CHECK_THAT(dx, AllClose(dx_ref, 1e-6, kRtol<T>));
      int64_t nonfinite = 0;
      for (double v : dx.to_vector()) nonfinite += !std::isfinite(v);
      CHECK(nonfinite == 0);
    }
  }
}

TEMPLATE_TEST_CASE("cross_entropy kernels equal naive with ignored and masked rows",
                   "[kernels][loss]", float, double) {
  using T = TestType;
  Rng rng(13);
  const int64_t ignore = -100;
  for (auto [N, V] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {7, 5}, {64, 3001}}) {
    Tensor x = rand_t<T>({N, V}, rng, -8.0, 8.0);
    std::vector<int64_t> t(N);
    for (int64_t n = 0; n < N; ++n) t[n] = n % 4 == 3 ? ignore : rng.randint(V);
    if (N > 2)  // a row with no distribution: loss +inf, gradient 0
      for (int64_t v = 0; v < V; ++v) put<T>(x, 2 * V + v, -INFINITY);
    Tensor dl = rand_t<T>({N}, rng);
    Tensor loss = Tensor::empty({N}, dtype_of<T>()), loss_ref = loss.clone();
    Tensor lse = loss.clone(), lse_ref = loss.clone();
    kernels::cross_entropy_forward<T>(loss.data<T>(), lse.data<T>(), x.data<T>(), t.data(), N, V, ignore);
    kernels::cross_entropy_forward_naive<T>(loss_ref.data<T>(), lse_ref.data<T>(), x.data<T>(),
                                            t.data(), N, V, ignore);
    CHECK_CLOSE_INF(loss, loss_ref, 1e-6, kRtol<T>);
    CHECK_CLOSE_INF(lse, lse_ref, 1e-6, kRtol<T>);
    Tensor dx = Tensor::empty({N, V}, dtype_of<T>()), dx_ref = dx.clone();
    kernels::cross_entropy_backward<T>(dx.data<T>(), dl.data<T>(), x.data<T>(), lse.data<T>(),
                                       t.data(), N, V, ignore);
    kernels::cross_entropy_backward_naive<T>(dx_ref.data<T>(), dl.data<T>(), x.data<T>(),
                                             lse.data<T>(), t.data(), N, V, ignore);
    CHECK_THAT(dx, AllClose(dx_ref, 1e-7, kRtol<T>));
    for (int64_t n = 0; n < N; ++n)
      if (t[n] == ignore) CHECK(loss.data<T>()[n] == T(0));
    if (N > 2) CHECK(loss.data<T>()[2] == std::numeric_limits<T>::infinity());
  }
}

TEMPLATE_TEST_CASE("layernorm kernels equal naive with and without affine parameters",
                   "[kernels][layernorm]", float, double) {
  using T = TestType;
  Rng rng(14);
  for (auto [N, D] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {7, 5}, {300, 130}}) {
    Tensor x = rand_t<T>({N, D}, rng, -3.0, 3.0), g = rand_t<T>({N, D}, rng);
    Tensor w = rand_t<T>({D}, rng, 0.5, 1.5), b = rand_t<T>({D}, rng);
    for (int affine = 0; affine < 4; ++affine) {
      const T* pw = affine & 1 ? w.data<T>() : nullptr;
      const T* pb = affine & 2 ? b.data<T>() : nullptr;
      Tensor y = Tensor::empty({N, D}, dtype_of<T>()), y_ref = y.clone();
      Tensor m = Tensor::empty({N}, dtype_of<T>()), s = m.clone(), m_ref = m.clone(), s_ref = m.clone();
      kernels::layernorm_forward<T>(y.data<T>(), m.data<T>(), s.data<T>(), x.data<T>(), pw, pb, N, D, T(1e-5));
      kernels::layernorm_forward_naive<T>(y_ref.data<T>(), m_ref.data<T>(), s_ref.data<T>(),
                                          x.data<T>(), pw, pb, N, D, T(1e-5));
      INFO("N " << N << " D " << D << " affine " << affine);
      CHECK_THAT(y, AllClose(y_ref, 1e-6, kRtol<T>));
      CHECK_THAT(m, AllClose(m_ref, 1e-6, kRtol<T>));
      CHECK_THAT(s, AllClose(s_ref, 1e-6, kRtol<T>));
      Tensor dx = Tensor::empty({N, D}, dtype_of<T>()), dx_ref = dx.clone();
      Tensor dw = Tensor::empty({D}, dtype_of<T>()), db = dw.clone(), dw_ref = dw.clone(), db_ref = dw.clone();
      kernels::layernorm_backward<T>(dx.data<T>(), dw.data<T>(), db.data<T>(), g.data<T>(),
                                     x.data<T>(), pw, m.data<T>(), s.data<T>(), N, D);
      kernels::layernorm_backward_naive<T>(dx_ref.data<T>(), dw_ref.data<T>(), db_ref.data<T>(),
                                           g.data<T>(), x.data<T>(), pw, m.data<T>(), s.data<T>(), N, D);
      // f32 dx: the row means in the formula cancel, so it carries a few more ulp
      const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
      CHECK_THAT(dx, AllClose(dx_ref, tol, 10 * tol));
      CHECK_THAT(dw, AllClose(dw_ref, tol, 10 * tol));
      CHECK_THAT(db, AllClose(db_ref, tol, 10 * tol));
      // dinp not wanted: the parameter gradients are unchanged
      Tensor dw2 = dw.clone();
      kernels::layernorm_backward<T>(nullptr, dw2.data<T>(), nullptr, g.data<T>(), x.data<T>(),
                                     pw, m.data<T>(), s.data<T>(), N, D);
      CHECK_THAT(dw2, AllClose(dw, 0, 0));
    }
  }
}

TEMPLATE_TEST_CASE("embedding kernels equal naive and accumulate repeated ids",
                   "[kernels][embedding]", float, double) {
  using T = TestType;
  Rng rng(15);
  for (auto [N, V, D] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {9, 5, 3}, {3000, 257, 64}}) {
    std::vector<int64_t> ids(N);
    for (auto& id : ids) id = rng.randint(V);
    Tensor w = rand_t<T>({V, D}, rng), g = rand_t<T>({N, D}, rng);
    Tensor y = Tensor::empty({N, D}, dtype_of<T>()), y_ref = y.clone();
    kernels::embedding_forward<T>(y.data<T>(), w.data<T>(), ids.data(), N, D);
    kernels::embedding_forward_naive<T>(y_ref.data<T>(), w.data<T>(), ids.data(), N, D);
    CHECK_THAT(y, AllClose(y_ref, 0, 0));
    Tensor dw = Tensor::full({V, D}, 7.0, dtype_of<T>()), dw_ref = dw.clone();  // overwritten
    kernels::embedding_backward<T>(dw.data<T>(), g.data<T>(), ids.data(), N, V, D);
    kernels::embedding_backward_naive<T>(dw_ref.data<T>(), g.data<T>(), ids.data(), N, V, D);
    CHECK_THAT(dw, AllClose(dw_ref, 0, 0));  // same order of additions per row: bit-identical
  }
}

TEMPLATE_TEST_CASE("dropout kernel equals naive", "[kernels][dropout]", float, double) {
  using T = TestType;
  Rng rng(16);
  for (int64_t n : {1, 7, 100003})
    for (double p : {0.0, 0.1, 0.5, 1.0}) {
      Tensor x = rand_t<T>({n}, rng);
      Tensor y = Tensor::empty({n}, dtype_of<T>()), y_ref = y.clone();
      kernels::dropout_forward<T>(y.data<T>(), x.data<T>(), n, p, 1234567);
      kernels::dropout_forward_naive<T>(y_ref.data<T>(), x.data<T>(), n, p, 1234567);
      CHECK_THAT(y, AllClose(y_ref, 0, kRtol<T>));
    }
}

TEMPLATE_TEST_CASE("cumsum kernels equal naive", "[kernels][cumsum]", float, double) {
  using T = TestType;
  Rng rng(17);
  for (auto [outer, n, inner] : std::vector<std::array<int64_t, 3>>{
           {1, 1, 1}, {3, 7, 1}, {1, 5, 3}, {7, 3, 5}, {64, 300, 17}}) {
    Tensor x = rand_t<T>({outer, n, inner}, rng);
    Tensor y = Tensor::empty({outer, n, inner}, dtype_of<T>()), y_ref = y.clone();
    kernels::cumsum_forward<T>(y.data<T>(), x.data<T>(), outer, n, inner);
    kernels::cumsum_forward_naive<T>(y_ref.data<T>(), x.data<T>(), outer, n, inner);
    CHECK_THAT(y, AllClose(y_ref, 0, 0));
    kernels::cumsum_backward<T>(y.data<T>(), x.data<T>(), outer, n, inner);
    kernels::cumsum_backward_naive<T>(y_ref.data<T>(), x.data<T>(), outer, n, inner);
    CHECK_CLOSE_INF(y, y_ref, 0, 0);
  }
}

TEMPLATE_TEST_CASE("masked_fill kernel equals naive for broadcast masks", "[kernels][masked_fill]",
                   float, double) {
  using T = TestType;
  Rng rng(18);
  struct Case { Shape shape; std::vector<int64_t> strides; int64_t mask_numel; };
  std::vector<Case> cases = {
      {{2, 3, 5, 5}, {0, 0, 5, 1}, 25},     // causal (T, T) mask over (B, H)
      {{2, 3, 5, 5}, {5, 0, 0, 1}, 10},     // key padding (B, 1, 1, T)
      {{2, 3, 5, 5}, {75, 25, 5, 1}, 150},  // full mask
      {{3, 7}, {1, 0}, 3},                  // one flag per row
      {{1}, {0}, 1},
      {{8, 64, 129}, {0, 129, 1}, 64 * 129},  // threaded
  };
  for (const auto& c : cases) {
    Tensor x = rand_t<T>(c.shape, rng);
    Tensor mask = Tensor::empty({c.mask_numel}, dtype_of<T>());
    for (int64_t i = 0; i < c.mask_numel; ++i) put<T>(mask, i, rng.uniform() < 0.4 ? 1.0 : 0.0);
    Tensor y = Tensor::empty(c.shape, dtype_of<T>()), y_ref = y.clone();
    const int nd = static_cast<int>(c.shape.size());
    kernels::masked_fill_forward<T>(y.data<T>(), x.data<T>(), mask.data<T>(), T(-INFINITY),
                                    c.shape.data(), c.strides.data(), nd);
    kernels::masked_fill_forward_naive<T>(y_ref.data<T>(), x.data<T>(), mask.data<T>(), T(-INFINITY),
                                          c.shape.data(), c.strides.data(), nd);
    CHECK_CLOSE_INF(y, y_ref, 0, 0);
  }
}
