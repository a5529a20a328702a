// Variable: a Tensor that autograd tracks. It holds a value, the accumulated gradient dL/dvalue
// and requires_grad. Like Tensor it is a handle: copies refer to the same variable.
// Leaves are created by the user (parameters, inputs); non-leaves are results of recorded ops.
// Gradients ACCUMULATE (+=) across backward calls until zero_grad(); only leaves keep theirs.
#pragma once
#include <memory>
#include <string>

#include "core/tensor.h"

namespace fwp {

struct VariableImpl {
  Tensor value;
  Tensor grad;               // undefined until a backward pass reaches this variable
  bool requires_grad = false;
  bool is_leaf = true;       // false for outputs of recorded ops
  bool history_freed = false;  // a backward() freed the ops that computed it
  std::string name;          // optional; parameters carry their module path
};

class Variable {
 public:
  Variable() = default;  // undefined
  explicit Variable(Tensor value, bool requires_grad = false);

  bool defined() const { return impl_ != nullptr; }
  const Tensor& value() const;
  Tensor& mutable_value();              // for in-place updates by optimizers (under NoGradGuard)
  const Tensor& grad() const;           // undefined if no gradient reached this variable yet
  bool has_grad() const { return defined() && impl_->grad.defined(); }
  bool requires_grad() const { return defined() && impl_->requires_grad; }
  void set_requires_grad(bool on);      // leaves only
  bool is_leaf() const { return !defined() || impl_->is_leaf; }
  void zero_grad();                     // forgets the gradient (grad() becomes undefined)
  Variable detach() const;              // same value (shared storage), new leaf, no gradient
  const std::string& name() const;
  void set_name(const std::string& name);

  // Shorthands for value().
  const Shape& shape() const { return value().shape(); }
  int64_t dim() const { return value().dim(); }
  int64_t size(int64_t d) const { return value().size(d); }
  int64_t numel() const { return value().numel(); }
  DType dtype() const { return value().dtype(); }
  Device device() const { return value().device(); }
  double item() const { return value().item(); }

  const std::shared_ptr<VariableImpl>& impl() const { return impl_; }
  static Variable from_impl(std::shared_ptr<VariableImpl> impl);

 private:
  std::shared_ptr<VariableImpl> impl_;
};

}  // namespace fwp
