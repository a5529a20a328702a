// The tape: every differentiable call made while gradients are enabled appends one entry
// (op, inputs, outputs) in execution order. backward() walks the entries in REVERSE order,
// calling each op's backward and accumulating gradients into its inputs. There is no graph of
// pointers between variables, so nothing is recursive: a 100,000-step chain backprops and
// frees in plain loops. One tape per thread. backward() frees the entries it walked through
// (unless retain_graph is set) and any entry no Variable can reach any more; entries of other,
// independent graphs stay for their own backward().
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "autograd/op.h"
#include "autograd/variable.h"

namespace fwp {

// Called by a backward walk as soon as a leaf's gradient is complete: right after the backward of
// the earliest recorded op that uses the leaf (the walk's last visit to it). Data-parallel training
// (experiments/common/distributed.h) starts averaging a gradient there while the walk goes on.
using LeafDone = std::function<void(const VariableImpl& leaf)>;

struct TapeEntry {
  std::shared_ptr<Op> op;
  std::vector<std::shared_ptr<VariableImpl>> inputs;
  std::vector<std::shared_ptr<VariableImpl>> outputs;
};

class Tape {
 public:
  // Appends an entry. Every time the tape has doubled since the last sweep it drops entries no
  // Variable can reach any more, so forward passes whose results are thrown away (evaluation
  // without a NoGradGuard) do not pile up.
  void push(TapeEntry entry);
  size_t size() const { return entries_.size(); }
  void clear();
  // dL/droots[i] = grads[i]; propagates to every leaf that requires grad.
  // leaf_done (may be null): see LeafDone; leaves the walk does not reach are not reported.
  void backward(const std::vector<Variable>& roots, const std::vector<Tensor>& grads,
                bool retain_graph, const LeafDone* leaf_done = nullptr);

 private:
  void collect_garbage();  // drops freed entries and entries whose outputs nobody holds
  std::vector<TapeEntry> entries_;
  size_t next_sweep_ = 4096;
};

Tape& active_tape();  // this thread's tape

// Gradient mode. Under a NoGradGuard nothing is recorded and results do not require grad.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Wraps the outputs of an op that has just run forward. If gradients are enabled and any input
// requires grad, the outputs require grad and the call is recorded on the active tape.
std::vector<Variable> record(std::shared_ptr<Op> op, const std::vector<Variable>& inputs,
                             std::vector<Tensor> outputs);
Variable record(std::shared_ptr<Op> op, const std::vector<Variable>& inputs, Tensor output);

// True if recording an op with these inputs would happen (ops may skip saving tensors otherwise).
bool any_requires_grad(const std::vector<Variable>& inputs);

// backward(loss): dL/dloss = 1 (loss must have one element). Clears the tape afterwards
// unless retain_graph is set (then a second backward accumulates the same gradients again).
void backward(const Variable& loss, bool retain_graph = false);
// backward(loss) that reports each leaf whose gradient is complete (LeafDone) during the walk.
void backward(const Variable& loss, const LeafDone& leaf_done);
// Several roots with explicit upstream gradients (used by gradcheck and multi-output tests).
void backward(const std::vector<Variable>& roots, const std::vector<Tensor>& grads,
              bool retain_graph = false);

}  // namespace fwp
