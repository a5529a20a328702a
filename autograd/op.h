// Op: one differentiable function. A subclass computes its forward, saves what its backward
// needs, and implements backward(): given dL/d(outputs), return dL/d(inputs).
// Convention: the gradient formula of every input is written in the comment above the class,
// and backward returns an undefined Tensor for inputs whose needs_grad is false.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace fwp {

class Op {
 public:
  virtual ~Op() = default;
  virtual const char* name() const = 0;
  // grad_outputs[i] = dL/d(output i), same shape as that output (zeros if it got no gradient).
  // Returns one tensor per input, shaped like that input (undefined where !needs_grad[i]).
  virtual std::vector<Tensor> backward(const std::vector<Tensor>& grad_outputs,
                                       const std::vector<bool>& needs_grad) = 0;
};

}  // namespace fwp
