// gradcheck: compares the gradients autograd computes with central finite differences.
// Inputs must be f64. A random upstream gradient G (one per output) turns the outputs into the
// scalar L = sum_i <out_i, G_i>, so a transposed or mis-summed gradient cannot hide behind an
// all-ones upstream. An element passes when |analytic - numeric| <= atol + rtol * |numeric|.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace fwp {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  uint64_t seed = 1234;       // for the upstream gradients
  std::vector<bool> check;    // which inputs to check (default: all)
};

struct GradcheckResult {
  bool ok = true;
  double worst_ratio = 0.0;   // max of |analytic - numeric| / (atol + rtol |numeric|); <= 1 passes
  int input = -1;             // where the worst element is
  int64_t index = -1;
  double analytic = 0.0, numeric = 0.0;
  std::string message;        // one line describing the worst element
};

using GradFn = std::function<Variable(const std::vector<Variable>&)>;
using GradFnMulti = std::function<std::vector<Variable>(const std::vector<Variable>&)>;

GradcheckResult gradcheck(const GradFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});
GradcheckResult gradcheck_multi(const GradFnMulti& f, const std::vector<Tensor>& inputs,
                                const GradcheckOptions& options = {});

}  // namespace fwp
