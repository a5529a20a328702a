// An f64 finite-difference check of a whole module's parameter gradients: L = <f(), G> with a
// random upstream gradient G, backward once for the analytic gradients, then central differences
// for up to `per_param` elements of every parameter (all of a small one, spread over a large one).
// Returns the worst |analytic - numeric| / (atol + rtol |numeric|) and where it was (<= 1 passes).
#pragma once
#include <cmath>
#include <functional>
#include <string>

#include "autograd/functions.h"
#include "autograd/tape.h"
#include "core/functional.h"
#include "layers/module.h"

namespace fwp_test {

struct ParameterCheck {
  double worst = 0.0;  // NaN anywhere counts as infinitely bad
  std::string where;
};

inline ParameterCheck check_parameter_gradients(fwp::Module& module,
                                                const std::function<fwp::Variable()>& f,
                                                uint64_t seed, int64_t per_param = 6,
                                                double eps = 1e-6, double atol = 1e-5,
                                                double rtol = 1e-3) {
  using namespace fwp;
  Variable out = f();
  Rng rng(seed);
  Tensor G = Tensor::randn(out.shape(), rng, DType::f64);
  module.zero_grad();
  backward({out}, {G});
  NoGradGuard no_grad;
  auto L = [&] { return sum(mul(f().value(), G)).item(); };
  ParameterCheck r;
  for (auto& [name, p] : module.named_parameters()) {
    Tensor analytic = p.has_grad() ? p.grad() : Tensor::zeros(p.shape(), DType::f64);
    double* x = p.mutable_value().data<double>();
    const int64_t n = p.numel(), stride = std::max<int64_t>(1, n / per_param);
    for (int64_t e = rng.randint(stride); e < n; e += stride) {
      const double saved = x[e];
      x[e] = saved + eps;
      const double lp = L();
      x[e] = saved - eps;
      const double lm = L();
      x[e] = saved;
      const double numeric = (lp - lm) / (2 * eps), a = analytic.data<double>()[e];
      const double ratio = std::abs(a - numeric) / (atol + rtol * std::abs(numeric));
      if (!(ratio <= r.worst)) {
        r.worst = std::isnan(ratio) ? INFINITY : ratio;
        r.where = cat(name, "[", e, "]: analytic ", a, " numeric ", numeric);
      }
    }
  }
  return r;
}

}  // namespace fwp_test
