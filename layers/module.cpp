// Module tree walks: parameters, buffers, train/eval, zero_grad.
#include "layers/module.h"

namespace fwp {

std::string to_string(ParamInit init) {
  switch (init) {
    case ParamInit::weight: return "weight";
    case ParamInit::zeros: return "zeros";
    case ParamInit::ones: return "ones";
    case ParamInit::own: return "own";
  }
  return "?";
}

void Module::check_name(const std::string& name) const {
  FWP_CHECK(!name.empty() && name.find('.') == std::string::npos,
            "Module: name '", name, "' must be non-empty and contain no '.'");
  for (const auto& p : params_) FWP_CHECK(p.name != name, "Module: duplicate name '", name, "'");
  for (const auto& [n, m] : children_) FWP_CHECK(n != name, "Module: duplicate name '", name, "'");
  for (const auto& [n, b] : buffers_) FWP_CHECK(n != name, "Module: duplicate name '", name, "'");
  for (const auto& [n, r] : rngs_) FWP_CHECK(n != name, "Module: duplicate name '", name, "'");
}

Variable Module::register_parameter(const std::string& name, Tensor value, ParamInit init) {
  check_name(name);
  FWP_CHECK(init != ParamInit::weight || value.dim() >= 2, "Module: parameter '", name,
            "' is declared ParamInit::weight (a matrix) but has shape ", value.shape());
  Variable v(std::move(value), true);
  v.set_name(name);
  params_.push_back({name, v, init});
  return v;
}

void Module::to(Device device) {
  for (NamedParameter& p : params_) p.value.mutable_value() = p.value.value().to(device);
  for (auto& [name, buffer] : buffers_)
    if (buffer->defined()) *buffer = buffer->to(device);
  for (auto& [name, child] : children_) child->to(device);
}

void Module::register_buffer(const std::string& name, Tensor* buffer) {
  check_name(name);
  buffers_.emplace_back(name, buffer);
}

void Module::register_rng(const std::string& name, Rng* rng) {
  check_name(name);
  rngs_.emplace_back(name, rng);
}

std::vector<NamedParameter> Module::parameter_table() const {
  std::vector<NamedParameter> out(params_.begin(), params_.end());
  for (const auto& [name, child] : children_)
    for (NamedParameter& p : child->parameter_table())
      out.push_back({name + "." + p.name, p.value, p.init});
  return out;
}

std::vector<std::pair<std::string, Variable>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Variable>> out;
  for (NamedParameter& p : parameter_table()) out.emplace_back(p.name, p.value);
  return out;
}

std::vector<Variable> Module::parameters() const {
  std::vector<Variable> out;
  for (auto& [name, v] : named_parameters()) out.push_back(v);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [name, b] : buffers_)
    if (b->defined()) out.emplace_back(name, *b);
  for (const auto& [name, child] : children_)
    for (auto& [sub, t] : child->named_buffers()) out.emplace_back(name + "." + sub, t);
  return out;
}

std::vector<std::pair<std::string, Rng*>> Module::named_rngs() const {
  std::vector<std::pair<std::string, Rng*>> out(rngs_.begin(), rngs_.end());
  for (const auto& [name, child] : children_)
    for (auto& [sub, r] : child->named_rngs()) out.emplace_back(name + "." + sub, r);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, v] : named_parameters()) n += v.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (auto& [name, v] : named_parameters()) v.zero_grad();
}

}  // namespace fwp
