// Finite-difference gradient checking in double precision: dL/dx[e] ~ (L(x + eps) - L(x - eps)) / 2eps.
#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/tape.h"
#include "core/functional.h"

namespace fwp {

namespace {
double weighted_sum(const std::vector<Variable>& outs, const std::vector<Tensor>& upstream) {
  double l = 0.0;
  for (size_t i = 0; i < outs.size(); ++i) l += sum(mul(outs[i].value(), upstream[i])).item();
  return l;
}
}  // namespace

GradcheckResult gradcheck_multi(const GradFnMulti& f, const std::vector<Tensor>& inputs,
                                const GradcheckOptions& opt) {
  std::vector<Variable> vars;
  for (size_t i = 0; i < inputs.size(); ++i) {
    FWP_CHECK(inputs[i].dtype() == DType::f64, "gradcheck: input ", i, " must be f64, got ",
              inputs[i].dtype());
    bool on = opt.check.empty() || opt.check[i];
    vars.emplace_back(inputs[i].clone(), on);
  }
  // analytic gradients through the tape
  std::vector<Variable> outs = f(vars);
  Rng rng(opt.seed);
  std::vector<Tensor> upstream;
  for (const Variable& o : outs) upstream.push_back(Tensor::randn(o.shape(), rng, DType::f64));
  std::vector<Variable> roots;
  std::vector<Tensor> root_grads;
  for (size_t i = 0; i < outs.size(); ++i)
    if (outs[i].requires_grad()) {
      roots.push_back(outs[i]);
      root_grads.push_back(upstream[i]);
    }
  if (!roots.empty()) backward(roots, root_grads);
  // numeric gradients, one element at a time
  GradcheckResult res;
  NoGradGuard no_grad;
  for (size_t i = 0; i < vars.size(); ++i) {
    if (!vars[i].requires_grad()) continue;
    Tensor analytic = vars[i].has_grad() ? vars[i].grad()
                                         : Tensor::zeros(vars[i].shape(), DType::f64);
    double* x = vars[i].mutable_value().data<double>();
    for (int64_t e = 0; e < vars[i].numel(); ++e) {
      const double saved = x[e];
      x[e] = saved + opt.eps;
      double lp = weighted_sum(f(vars), upstream);
      x[e] = saved - opt.eps;
      double lm = weighted_sum(f(vars), upstream);
      x[e] = saved;
      double numeric = (lp - lm) / (2.0 * opt.eps);
      double a = analytic.data<double>()[e];
      double ratio = std::abs(a - numeric) / (opt.atol + opt.rtol * std::abs(numeric));
      if (std::isnan(ratio)) ratio = INFINITY;  // a NaN gradient is the worst possible error
      if (ratio > res.worst_ratio || res.input < 0) {
        res.worst_ratio = ratio;
        res.input = static_cast<int>(i);
        res.index = e;
        res.analytic = a;
        res.numeric = numeric;
      }
    }
  }
  res.ok = res.worst_ratio <= 1.0;
  std::ostringstream os;
  os.precision(10);
  os << "gradcheck " << (res.ok ? "passed" : "FAILED") << ": worst element is input " << res.input
     << " flat index " << res.index << ", analytic " << res.analytic << " vs numeric "
     << res.numeric << " (error/tolerance = " << res.worst_ratio << ")";
  res.message = os.str();
  return res;
}

GradcheckResult gradcheck(const GradFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  return gradcheck_multi([&](const std::vector<Variable>& v) { return std::vector<Variable>{f(v)}; },
                         inputs, options);
}

}  // namespace fwp
