// Linear: y = x W^T + b, W is (out_features, in_features) as in PyTorch, b is (out_features).
// x may have any leading dims (..., in_features); the product is one gemm over all of them.
// Default init U(-1/sqrt(in), 1/sqrt(in)) for W and b (PyTorch's nn.Linear default).
#pragma once
#include "layers/module.h"

namespace fwp {

struct LinearOptions {
  bool bias = true;
  DType dtype = DType::f32;
};

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Rng& rng, LinearOptions options = {});
  Variable forward(const Variable& x) const;

  Variable weight, bias;  // bias is undefined when options.bias is false
  int64_t in_features, out_features;
};

}  // namespace fwp
