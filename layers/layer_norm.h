// LayerNorm over the last dimension (Ba, Kiros & Hinton 2016), as torch.nn.LayerNorm:
//   y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias      (biased variance, per row)
// weight starts at ones and bias at zeros; with affine = false there are no parameters.
// The fused forward/backward is the autograd function `layer_norm`.
#pragma once
#include "layers/module.h"

namespace fwp {

struct LayerNormOptions {
  double eps = 1e-5;
  bool affine = true;
  DType dtype = DType::f32;
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t normalized_dim, LayerNormOptions options = {});
  Variable forward(const Variable& x) const;  // x is (..., D)

  Variable weight, bias;  // (D) each; undefined when !affine
  int64_t normalized_dim;
  double eps;
};

}  // namespace fwp
