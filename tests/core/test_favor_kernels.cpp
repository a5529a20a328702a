// The FAVOR+ feature kernels (kernels/cpu/favor.h) against their naive twins, f32 and f64, with
// and without eps, on widths that are and are not whole SIMD vectors and on a threaded size.
#include "tests/catch.h"

#include "core/tensor.h"
#include "kernels/cpu/favor.h"

using namespace fwp;
using fwp_test::AllClose;

TEMPLATE_TEST_CASE("favor kernels equal their naive twins", "[kernels][favor]", float, double) {
  using T = TestType;
  const DType dt = dtype_of<T>();
  // f32: fast_exp is within 7.9e-8 of exp; dc sums 2m terms in float instead of double.
  const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-14;
  struct Case {
    int64_t N, Dk, m;
  };
  for (Case c : {Case{1, 1, 1}, Case{3, 5, 7}, Case{4, 16, 64}, Case{2, 64, 33}, Case{600, 8, 40}})
    for (double eps : {0.0, 1e-4}) {
      INFO("N=" << c.N << " Dk=" << c.Dk << " m=" << c.m << " eps=" << eps);
      Rng rng(3 + c.N + c.m);
      Tensor x = Tensor::uniform({c.N, c.Dk}, rng, -1.0, 1.0, dt);
      Tensor u = Tensor::uniform({c.N, c.m}, rng, -6.0, 6.0, dt);  // exp spans ~1e-5 .. 1e2
      Tensor g = Tensor::randn({c.N, 2 * c.m}, rng, dt);
      Tensor phi[2], du[2], dx[2];
      for (int i = 0; i < 2; ++i) {
        phi[i] = Tensor::empty({c.N, 2 * c.m}, dt);
        du[i] = Tensor::empty({c.N, c.m}, dt);
        dx[i] = Tensor::empty({c.N, c.Dk}, dt);
      }
      const T e = static_cast<T>(eps);
      kernels::favor_forward<T>(phi[0].data<T>(), u.data<T>(), x.data<T>(), e, c.N, c.Dk, c.m);
      kernels::favor_forward_naive<T>(phi[1].data<T>(), u.data<T>(), x.data<T>(), e, c.N, c.Dk,
                                      c.m);
      CHECK_THAT(phi[0], AllClose(phi[1], 0.0, tol));
      kernels::favor_backward<T>(du[0].data<T>(), dx[0].data<T>(), g.data<T>(), phi[1].data<T>(),
                                 x.data<T>(), e, c.N, c.Dk, c.m);
      kernels::favor_backward_naive<T>(du[1].data<T>(), dx[1].data<T>(), g.data<T>(),
                                       phi[1].data<T>(), x.data<T>(), e, c.N, c.Dk, c.m);
      CHECK_THAT(du[0], AllClose(du[1], tol, tol));
      CHECK_THAT(dx[0], AllClose(dx[1], 10 * tol, tol));
    }
}
