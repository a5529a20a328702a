// LayerNorm module: parameters and the shape check; the math is the fused `layer_norm` op.
#include "layers/layer_norm.h"

#include "autograd/functions.h"

namespace fwp {

LayerNorm::LayerNorm(int64_t D, LayerNormOptions options) : normalized_dim(D), eps(options.eps) {
  FWP_CHECK(D > 0, "LayerNorm: normalized_dim must be positive, got ", D);
  FWP_CHECK(options.eps > 0.0, "LayerNorm: eps must be > 0, got ", options.eps);
  if (options.affine) {
    weight = register_parameter("weight", Tensor::ones({D}, options.dtype), ParamInit::ones);
    bias = register_parameter("bias", Tensor::zeros({D}, options.dtype), ParamInit::zeros);
  }
}

Variable LayerNorm::forward(const Variable& x) const {
  FWP_CHECK_SHAPE(x.dim() >= 1 && x.size(-1) == normalized_dim, "LayerNorm: input must end in ",
                  normalized_dim, " features, got x=", x.shape());
  return layer_norm(x, weight, bias, eps);
}

}  // namespace fwp
