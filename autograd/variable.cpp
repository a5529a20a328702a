// Variable accessors; the interesting part (how gradients arrive) is in tape.cpp.
#include "autograd/variable.h"

namespace fwp {

Variable::Variable(Tensor value, bool requires_grad) : impl_(std::make_shared<VariableImpl>()) {
  FWP_CHECK(value.defined(), "Variable: cannot wrap an undefined tensor");
  impl_->value = std::move(value);
  impl_->requires_grad = requires_grad;
}

Variable Variable::from_impl(std::shared_ptr<VariableImpl> impl) {
  Variable v;
  v.impl_ = std::move(impl);
  return v;
}

const Tensor& Variable::value() const {
  FWP_CHECK(defined(), "Variable::value: the variable is undefined");
  return impl_->value;
}

Tensor& Variable::mutable_value() {
  FWP_CHECK(defined(), "Variable::mutable_value: the variable is undefined");
  return impl_->value;
}

const Tensor& Variable::grad() const {
  FWP_CHECK(defined(), "Variable::grad: the variable is undefined");
  return impl_->grad;
}

void Variable::set_requires_grad(bool on) {
  FWP_CHECK(defined(), "Variable::set_requires_grad: the variable is undefined");
  FWP_CHECK(impl_->is_leaf, "Variable::set_requires_grad: only leaves can change requires_grad; "
                            "use detach() to cut a non-leaf from the graph");
  impl_->requires_grad = on;
}

void Variable::zero_grad() {
  if (defined()) impl_->grad = Tensor();
}

Variable Variable::detach() const { return Variable(value(), false); }

const std::string& Variable::name() const {
  FWP_CHECK(defined(), "Variable::name: the variable is undefined");
  return impl_->name;
}

void Variable::set_name(const std::string& name) {
  FWP_CHECK(defined(), "Variable::set_name: the variable is undefined");
  impl_->name = name;
}

}  // namespace fwp
