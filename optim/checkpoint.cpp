// Module-level checkpoints on top of core/safetensors. Loading is two passes: pass 1 pairs
// every destination tensor (parameter, buffer, optimizer state) with its source in the file and
// checks names, shapes, dtypes and metadata; pass 2 copies. Nothing is written before pass 2.
#include "optim/checkpoint.h"

#include <charconv>
#include <cmath>
#include <set>
#include <vector>

#include "core/safetensors.h"

namespace fwp {

namespace {

const std::string kPrefix = "optimizer.";
const std::string kRunPrefix = "run.";

bool starts_with_prefix(const std::string& s) { return s.rfind(kPrefix, 0) == 0; }

// The module path of each of the optimizer's parameters, in the optimizer's order.
std::vector<std::string> param_paths(const std::string& who, const Module& module,
                                     const Optimizer& opt) {
  std::map<const VariableImpl*, std::string> path_of;
  for (const auto& [name, v] : module.named_parameters()) path_of.emplace(v.impl().get(), name);
  std::vector<std::string> out;
  for (size_t i = 0; i < opt.params().size(); ++i) {
    auto it = path_of.find(opt.params()[i].impl().get());
    FWP_CHECK(it != path_of.end(), who, ": optimizer parameter ", i, " ('",
              opt.params()[i].name(), "') is not a parameter of the module");
    out.push_back(it->second);
  }
  return out;
}

// Shortest decimal that parses back to exactly the same double.
std::string exact_number(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

double parse_number(const std::string& who, const std::string& key, const std::string& s) {
  double v = 0.0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  FWP_CHECK(r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(v), who,
            ": metadata '", key, "' is not a finite number: '", s, "'");
  return v;
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < 8; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > 8) s += cat(", ... (", names.size(), " in all)");
  return s;
}

}  // namespace

void save_checkpoint(const std::string& path, const Module& module, const Optimizer* optimizer,
                     const std::map<std::string, std::string>& metadata,
                     const std::map<std::string, Tensor>& run_tensors) {
  const std::string who = cat("save_checkpoint: '", path, "'");
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> meta;
  for (const auto& [key, value] : metadata) {
    FWP_CHECK(!starts_with_prefix(key), who, ": metadata key '", key,
              "' is reserved (keys starting with 'optimizer.' hold the optimizer's settings)");
    meta[key] = value;
  }
  auto add = [&](const std::string& name, const Tensor& t) {
    FWP_CHECK(tensors.emplace(name, t).second, who, ": two tensors are named '", name, "'");
  };
  for (const auto& [name, v] : module.named_parameters()) {
    FWP_CHECK(!starts_with_prefix(name) && name.rfind(kRunPrefix, 0) != 0, who, ": module path '",
              name, "' clashes with a reserved prefix ('optimizer.', 'run.')");
    add(name, v.value());
  }
  for (const auto& [name, t] : module.named_buffers()) add(name, t);
  for (const auto& [name, t] : run_tensors) add(kRunPrefix + name, t);
  if (optimizer) {
    const Optimizer& opt = *optimizer;
    const std::vector<std::string> paths = param_paths(who, module, opt);
    for (const std::string& kind : opt.state_kinds())
      for (size_t i = 0; i < paths.size(); ++i) add(kPrefix + kind + "." + paths[i], opt.state(kind, i));
    meta[kPrefix + "type"] = opt.name();
    meta[kPrefix + "step"] = std::to_string(opt.step_count());
    for (const auto& [name, value] : opt.hyperparameters()) meta[kPrefix + name] = exact_number(value);
  }
  save_safetensors(path, tensors, meta);
}

std::map<std::string, std::string> load_checkpoint(const std::string& path, Module& module,
                                                   Optimizer* optimizer,
                                                   std::map<std::string, Tensor>* run_tensors) {
  const std::string who = cat("load_checkpoint: '", path, "'");
  SafetensorsContents file = load_safetensors(path);

  // pass 1: pair each destination with its source and check everything
  std::vector<std::pair<Tensor, const Tensor*>> copies;  // (destination handle, source)
  std::set<std::string> used;
  std::vector<std::string> missing;
  auto want = [&](const std::string& name, const Tensor& dst) {
    auto it = file.tensors.find(name);
    if (it == file.tensors.end()) {
      missing.push_back(name);
      return;
    }
    const Tensor& src = it->second;
    FWP_CHECK_SHAPE(src.shape() == dst.shape(), who, ": tensor '", name, "' has shape ",
                    src.shape(), " in the file but ", dst.shape(), " in the model");
    FWP_CHECK_SHAPE(src.dtype() == dst.dtype(), who, ": tensor '", name, "' is ", src.dtype(),
                    " in the file but ", dst.dtype(), " in the model");
    used.insert(name);
    copies.emplace_back(dst, &src);
  };
  for (const auto& [name, v] : module.named_parameters()) want(name, v.value());
  for (const auto& [name, t] : module.named_buffers()) want(name, t);

  std::map<std::string, double> hypers;
  int64_t step = 0;
  if (optimizer) {
    auto meta = [&](const std::string& key) -> const std::string& {
      auto it = file.metadata.find(kPrefix + key);
      FWP_CHECK(it != file.metadata.end(), who, ": no optimizer state (metadata '", kPrefix, key,
                "' is missing; was it saved without an optimizer?)");
      return it->second;
    };
    FWP_CHECK(meta("type") == optimizer->name(), who, ": the file holds the state of optimizer '",
              meta("type"), "', not '", optimizer->name(), "'");
    const double steps = parse_number(who, kPrefix + "step", meta("step"));
    FWP_CHECK(steps >= 0 && steps == std::floor(steps), who, ": bad optimizer.step '",
              meta("step"), "'");
    step = static_cast<int64_t>(steps);
    for (const auto& [name, value] : optimizer->hyperparameters())
      hypers[name] = parse_number(who, kPrefix + name, meta(name));
    const std::vector<std::string> paths = param_paths(who, module, *optimizer);
    for (const std::string& kind : optimizer->state_kinds())
      for (size_t i = 0; i < paths.size(); ++i)
        want(kPrefix + kind + "." + paths[i], optimizer->state(kind, i));
  }
  FWP_CHECK(missing.empty(), who, ": missing tensors: ", join(missing));
  std::vector<std::string> unexpected;
  auto is_run = [](const std::string& name) { return name.rfind(kRunPrefix, 0) == 0; };
  for (const auto& [name, t] : file.tensors)
    if (!used.count(name) && !is_run(name) && (optimizer || !starts_with_prefix(name)))
      unexpected.push_back(name);
  FWP_CHECK(unexpected.empty(), who, ": unexpected tensors (not in the model): ", join(unexpected));

  // pass 2: everything fits; copy
  for (auto& [dst, src] : copies) dst.copy_(*src);
  if (run_tensors) {
    run_tensors->clear();
    for (const auto& [name, t] : file.tensors)
      if (is_run(name)) (*run_tensors)[name.substr(kRunPrefix.size())] = t;
  }
  if (optimizer) {
    for (const auto& [name, value] : hypers) optimizer->set_hyperparameter(name, value);
    optimizer->set_step_count(step);
  }
  std::map<std::string, std::string> user;
  for (const auto& [key, value] : file.metadata)
    if (!starts_with_prefix(key)) user[key] = value;
  return user;
}

}  // namespace fwp
