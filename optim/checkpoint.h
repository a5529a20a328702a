// Checkpoints: a Module's parameters and buffers, optionally an optimizer's state, and user
// metadata, in one safetensors file (core/safetensors.h) that any safetensors tool can read.
//   tensors   "<module path>" for every parameter and buffer ("blocks.0.ff.w1.weight");
//             "optimizer.<kind>.<module path>" for optimizer state ("optimizer.m.blocks.0.ff.w1.weight")
//             "run.<name>" for the caller's own tensors (e.g. a recurrent state carried over)
//   metadata  the user's string pairs, plus "optimizer.type", "optimizer.step" and one
//             "optimizer.<hyper-parameter>" per hyper-parameter (shortest exact decimal form)
// Loading is all or nothing: the file is read and checked against the module (names, shapes,
// dtypes) and the optimizer completely before a single parameter is overwritten.
#pragma once
#include <map>
#include <string>

#include "layers/module.h"
#include "optim/optimizer.h"

namespace fwp {

// Writes atomically (temp file + rename). User metadata keys must not start with "optimizer.".
// `run_tensors` are stored as "run.<name>".
void save_checkpoint(const std::string& path, const Module& module,
                     const Optimizer* optimizer = nullptr,
                     const std::map<std::string, std::string>& metadata = {},
                     const std::map<std::string, Tensor>& run_tensors = {});

// Loads parameters and buffers into `module` and, if `optimizer` is given, its state, step count
// and hyper-parameters (the optimizer must be of the saved type, over the module's parameters).
// Optimizer entries in the file are ignored when no optimizer is given; "run.<name>" tensors go
// into *run_tensors (by name) when it is given and are ignored otherwise. Returns the user metadata.
// Throws fwp::Error naming the file and the tensor on missing or unexpected names and on shape or
// dtype mismatches; the module and optimizer are then unchanged.
std::map<std::string, std::string> load_checkpoint(const std::string& path, Module& module,
                                                   Optimizer* optimizer = nullptr,
                                                   std::map<std::string, Tensor>* run_tensors = nullptr);

}  // namespace fwp
