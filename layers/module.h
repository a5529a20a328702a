// Module: a named tree of parameters, like torch.nn.Module. A module registers its parameters
// and sub-modules by name; named_parameters() walks the tree and joins the names with dots
// ("blocks.3.ff.w1.weight"), which are also the tensor names in checkpoints.
// There is no virtual forward(): each module's forward has the signature its math needs.
// Random generators that belong to a module (dropout masks, FAVOR+ redraws) are registered too,
// so a training checkpoint can save and restore them and a resumed run continues bit for bit.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace fwp {

// How a parameter is initialised, declared by the layer that registers it. The constructor
// already gives every parameter a value, so a layer works on its own (Linear: U(+-1/sqrt(in)),
// as PyTorch). A model's init pass (init_transformer_weights) may then redraw a parameter, but
// only as its declaration says:
//   weight  a matrix (Linear weight, embedding table): drawn from N(0, std^2), the model's std
//   zeros   a bias: set to 0
//   ones    a gain (LayerNorm's weight): set to 1
//   own     the constructor's value IS the initialisation and no model pass touches it, e.g.
//           the gated delta rule's alpha_bias, which places the decays in [0.9, 0.999]
// The declaration travels with the parameter, so no pass has to guess a role from a name.
enum class ParamInit { weight, zeros, ones, own };
std::string to_string(ParamInit init);

struct NamedParameter {
  std::string name;  // the dotted path, as in named_parameters()
  Variable value;
  ParamInit init;
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  // Modules hold pointers to their own members (buffers), so they are never copied or moved:
  // keep them in place or in std::shared_ptr.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Every parameter of this module and its children, depth first in registration order.
  std::vector<std::pair<std::string, Variable>> named_parameters() const;
  std::vector<Variable> parameters() const;
  // The same walk with each parameter's declared initialisation.
  std::vector<NamedParameter> parameter_table() const;
  // Non-trainable tensors that belong in checkpoints (e.g. frozen random features).
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  // The module's random generators, by path ("dropout_rng", "layers.0.attn.phi.rng").
  std::vector<std::pair<std::string, Rng*>> named_rngs() const;
  int64_t num_parameters() const;

  void train(bool on = true);  // recursively; dropout and FAVOR+ redraws look at training()
  void eval() { train(false); }
  bool training() const { return training_; }
  void zero_grad();
  // Moves every parameter and buffer, recursively, to `device` (the parameters stay the same
  // Variables, so an optimizer built on them sees the moved values). Build the optimizer after
  // the move: its state is allocated beside the parameters.
  void to(Device device);

 protected:
  // `init` declares how a model-wide init pass may treat the parameter (see ParamInit); a
  // `weight` must be a matrix (at least 2-D).
  Variable register_parameter(const std::string& name, Tensor value, ParamInit init);
  void register_buffer(const std::string& name, Tensor* buffer);  // the module owns *buffer
  void register_rng(const std::string& name, Rng* rng);            // the module owns *rng
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    check_name(name);
    children_.emplace_back(name, module);
    return module;
  }

 private:
  void check_name(const std::string& name) const;
  std::vector<NamedParameter> params_;  // name is the local name here
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::vector<std::pair<std::string, Rng*>> rngs_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// A list of sub-modules named by their index: "layers.0.attn...", "layers.1.attn...".
template <typename M>
class ModuleList : public Module {
 public:
  std::shared_ptr<M> add(std::shared_ptr<M> module) {
    items_.push_back(register_module(std::to_string(items_.size()), std::move(module)));
    return items_.back();
  }
  size_t size() const { return items_.size(); }
  M& operator[](size_t i) const { return *items_.at(i); }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

}  // namespace fwp
