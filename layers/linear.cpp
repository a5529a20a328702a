// Linear layer forward: one matmul with the weight transposed (a BLAS flag, no copy), plus bias.
#include "layers/linear.h"

#include <cmath>

#include "autograd/functions.h"

namespace fwp {

Linear::Linear(int64_t in, int64_t out, Rng& rng, LinearOptions options)
    : in_features(in), out_features(out) {
  FWP_CHECK(in > 0 && out > 0, "Linear: sizes must be positive, got in=", in, " out=", out);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  weight = register_parameter(
      "weight", Tensor::uniform({out, in}, rng, -bound, bound, options.dtype), ParamInit::weight);
  if (options.bias)
    bias = register_parameter("bias", Tensor::uniform({out}, rng, -bound, bound, options.dtype),
                              ParamInit::zeros);  // zero under a model's init pass
}

Variable Linear::forward(const Variable& x) const {
  FWP_CHECK_SHAPE(x.dim() >= 1 && x.size(-1) == in_features, "Linear: input must end in ",
                  in_features, " features, got x=", x.shape());
  Variable y = matmul(x.dim() == 1 ? reshape(x, {1, in_features}) : x, weight, false, true);
  if (bias.defined()) y = y + bias;
  return x.dim() == 1 ? reshape(y, {out_features}) : y;
}

}  // namespace fwp
