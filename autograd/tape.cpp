// Recording and the reverse walk. Read backward() top to bottom: seed the roots, then one loop
// over the entries from last to first, each step "gradients of outputs -> gradients of inputs".
#include "autograd/tape.h"

#include <unordered_set>

#include "core/functional.h"

namespace fwp {

namespace {
thread_local Tape t_tape;
thread_local bool t_grad_enabled = true;

// Adds g into v's gradient. Leaves get their own copy on first arrival (an op may hand the same
// tensor to several inputs, and optimizers modify leaf gradients in place); later arrivals
// are summed out of place so a tensor shared with another variable is never mutated.
void accumulate(VariableImpl& v, const Tensor& g) {
  if (!v.grad.defined()) {
    v.grad = v.is_leaf ? g.clone() : g;
  } else {
    v.grad = add(v.grad, g);
  }
}
}  // namespace

Tape& active_tape() { return t_tape; }
bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

bool any_requires_grad(const std::vector<Variable>& inputs) {
  if (!t_grad_enabled) return false;
  for (const Variable& v : inputs)
    if (v.requires_grad()) return true;
  return false;
}

std::vector<Variable> record(std::shared_ptr<Op> op, const std::vector<Variable>& inputs,
                             std::vector<Tensor> outputs) {
  const bool recording = any_requires_grad(inputs);
  std::vector<Variable> result;
  TapeEntry entry;
  for (Tensor& t : outputs) {
    Variable v(std::move(t), recording);
    v.impl()->is_leaf = !recording;
    if (recording) entry.outputs.push_back(v.impl());
    result.push_back(std::move(v));
  }
  if (recording) {
    entry.op = std::move(op);
    for (const Variable& v : inputs) entry.inputs.push_back(v.impl());
    t_tape.push(std::move(entry));
  }
  return result;
}

Variable record(std::shared_ptr<Op> op, const std::vector<Variable>& inputs, Tensor output) {
  std::vector<Tensor> outs;
  outs.push_back(std::move(output));
  return record(std::move(op), inputs, std::move(outs))[0];
}

void Tape::push(TapeEntry entry) {
  entries_.push_back(std::move(entry));
  if (entries_.size() >= next_sweep_) collect_garbage();
}

void Tape::clear() {
  // Entries hold only shared pointers to flat structs; destroying them never recurses.
  entries_.clear();
  next_sweep_ = 4096;
}

void Tape::backward(const std::vector<Variable>& roots, const std::vector<Tensor>& grads,
                    bool retain_graph, const LeafDone* leaf_done) {
  FWP_CHECK(roots.size() == grads.size(), "backward: got ", roots.size(), " roots but ",
            grads.size(), " gradients");
  // pass 1: validate the roots and find the last entry that any of them depends on
  int64_t last = -1;
  for (size_t r = 0; r < roots.size(); ++r) {
    const Variable& root = roots[r];
    FWP_CHECK(root.defined(), "backward: root ", r, " is undefined");
    FWP_CHECK(root.requires_grad(), "backward: root ", r, " does not require grad (was it computed "
              "under NoGradGuard, or from inputs that do not require grad?)");
    FWP_CHECK_SHAPE(grads[r].defined() && grads[r].shape() == root.shape() &&
                        grads[r].dtype() == root.dtype(),
                    "backward: gradient for root ", r, " must match its shape ", root.shape(),
                    " and dtype ", root.dtype(), ", got ",
                    grads[r].defined() ? grads[r].shape().str() : std::string("undefined"));
    if (root.is_leaf()) continue;
    int64_t found = -1;
    for (int64_t i = static_cast<int64_t>(entries_.size()) - 1; i >= 0 && found < 0; --i)
      for (const auto& out : entries_[i].outputs)
        if (out == root.impl()) found = i;
    FWP_CHECK(found >= 0, "backward: root ", r, " is not on this thread's tape; an earlier "
              "backward() already consumed its graph (pass retain_graph=true to reuse a graph)");
    last = std::max(last, found);
  }
  // pass 2: forget stale gradients of intermediate results, then seed the roots
  for (int64_t i = 0; i <= last; ++i)
    for (auto& out : entries_[i].outputs) out->grad = Tensor();
  for (size_t r = 0; r < roots.size(); ++r) accumulate(*roots[r].impl(), grads[r]);
  // for leaf_done: the leaves whose earliest use is entry i, i.e. that entry i completes
  std::vector<std::vector<const VariableImpl*>> completes;
  if (leaf_done) {
    completes.resize(last + 1);
    std::unordered_set<const VariableImpl*> seen;
    for (int64_t i = 0; i <= last; ++i)
      for (const auto& in : entries_[i].inputs)
        if (in->is_leaf && in->requires_grad && seen.insert(in.get()).second)
          completes[i].push_back(in.get());
  }
  // pass 3: the reverse walk
  for (int64_t i = last; i >= 0; --i) {
    TapeEntry& e = entries_[i];
    bool reached = false;
    for (auto& out : e.outputs) reached = reached || out->grad.defined();
    if (reached) {
      std::vector<Tensor> grad_outputs;
      for (auto& out : e.outputs)
        grad_outputs.push_back(out->grad.defined()
                                   ? out->grad
                                   : Tensor::zeros(out->value.shape(), out->value.dtype(),
                                                   out->value.device()));
      std::vector<bool> needs_grad;
      for (auto& in : e.inputs) needs_grad.push_back(in->requires_grad);
      std::vector<Tensor> grad_inputs = e.op->backward(grad_outputs, needs_grad);
      FWP_ASSERT(grad_inputs.size() == e.inputs.size(), e.op->name(), " returned ",
                 grad_inputs.size(), " gradients for ", e.inputs.size(), " inputs");
      for (size_t j = 0; j < e.inputs.size(); ++j) {
        if (!needs_grad[j]) continue;
        const Tensor& g = grad_inputs[j];
        FWP_ASSERT(g.defined() && g.shape() == e.inputs[j]->value.shape(), e.op->name(),
                   ": gradient of input ", j, " has shape ",
                   g.defined() ? g.shape().str() : std::string("undefined"), ", expected ",
                   e.inputs[j]->value.shape());
        FWP_CHECK(e.inputs[j]->is_leaf || !e.inputs[j]->history_freed, "backward: input ", j,
                  " of ", e.op->name(), " was computed by ops that an earlier backward() already "
                  "freed; pass retain_graph=true to that backward, or detach() the input");
        accumulate(*e.inputs[j], g);
      }
    }
    if (leaf_done)
      for (const VariableImpl* leaf : completes[i])
        if (leaf->grad.defined()) (*leaf_done)(*leaf);
    for (auto& out : e.outputs) out->grad = Tensor();  // intermediate gradients are not kept
    if (reached && !retain_graph) {                    // free saved tensors as we go
      for (auto& out : e.outputs) out->history_freed = true;
      e = TapeEntry{};
    }
  }
  if (!retain_graph) collect_garbage();
}

void Tape::collect_garbage() {
  // Entries the walk did not reach stay for a later backward() -- unless nobody can ever ask
  // for it: if no Variable outside the tape refers to any output of an entry (use_count 1 is the
  // entry's own reference), that entry is unreachable. Walking from the back frees chains.
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (!it->op) continue;
    bool referenced = false;
    for (auto& out : it->outputs) referenced = referenced || out.use_count() > 1;
    if (!referenced) *it = TapeEntry{};
  }
  std::erase_if(entries_, [](const TapeEntry& e) { return !e.op; });
  next_sweep_ = std::max<size_t>(4096, 2 * entries_.size());
}

void backward(const Variable& loss, bool retain_graph) {
  FWP_CHECK(loss.defined(), "backward: the loss is undefined");
  FWP_CHECK_SHAPE(loss.numel() == 1, "backward: the loss must have one element, got shape ",
                  loss.shape(), "; pass explicit gradients for non-scalar roots");
  backward({loss}, {Tensor::ones(loss.shape(), loss.dtype(), loss.value().device())},
           retain_graph);
}

void backward(const Variable& loss, const LeafDone& leaf_done) {
  FWP_CHECK(loss.defined(), "backward: the loss is undefined");
  FWP_CHECK_SHAPE(loss.numel() == 1, "backward: the loss must have one element, got shape ",
                  loss.shape());
  t_tape.backward({loss}, {Tensor::ones(loss.shape(), loss.dtype(), loss.value().device())}, false,
                  &leaf_done);
}

void backward(const std::vector<Variable>& roots, const std::vector<Tensor>& grads,
              bool retain_graph) {
  t_tape.backward(roots, grads, retain_graph);
}

}  // namespace fwp
