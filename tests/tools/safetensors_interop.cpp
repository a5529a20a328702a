// Helper program for scripts/check_safetensors.py (not a unit test): proves that fwp's
// checkpoints are ordinary safetensors files by printing, as JSON, exactly what fwp wrote or read.
//   safetensors_interop write <path>   saves a small model + Adam state with save_checkpoint
//   safetensors_interop read <path>    loads any F32/F64 safetensors file with load_safetensors
// Output: {"metadata": {...}, "tensors": {name: {"dtype", "shape", "values"}}}; values are printed
// as shortest round-trip decimals of the exact (f32 widened to f64) values. `write` prints the
// tensors from memory, so the check does not depend on fwp's own reader.
#include <iostream>
#include <nlohmann/json.hpp>

#include "autograd/functions.h"
#include "core/safetensors.h"
#include "layers/linear.h"
#include "optim/checkpoint.h"

using namespace fwp;

namespace {

struct Sample : Module {
  std::shared_ptr<Linear> l1, l2;
  Tensor buffer;
  explicit Sample(Rng& rng) {
    l1 = register_module("l1", std::make_shared<Linear>(3, 4, rng));
    l2 = register_module("l2", std::make_shared<Linear>(4, 2, rng, LinearOptions{.dtype = DType::f64}));
    buffer = Tensor::randn({2, 1, 3}, rng, DType::f64);
    register_buffer("features", &buffer);
  }
};

nlohmann::json describe(const SafetensorsContents& c) {
  nlohmann::json out = {{"metadata", c.metadata}, {"tensors", nlohmann::json::object()}};
  for (const auto& [name, t] : c.tensors)
    out["tensors"][name] = {{"dtype", t.dtype() == DType::f32 ? "F32" : "F64"},
                            {"shape", std::vector<int64_t>(t.shape().begin(), t.shape().end())},
                            {"values", t.to_vector()}};
  return out;
}

// Saves the sample and returns what was saved, taken from memory (not read back), named as
// optim/checkpoint.h documents.
SafetensorsContents write_sample(const std::string& path) {
  Rng rng(2024);
  Sample model(rng);
  Adam opt(model.parameters(), {.lr = 0.01});
  for (Variable& p : model.parameters()) p.impl()->grad = Tensor::randn(p.shape(), rng, p.dtype());
  opt.step();  // non-zero moments to save
  const std::map<std::string, std::string> meta = {{"config", R"({"width": 4, "note": "fwp sample"})"}};
  save_checkpoint(path, model, &opt, meta);
  SafetensorsContents saved{{}, meta};
  auto named = model.named_parameters();
  for (size_t i = 0; i < named.size(); ++i) {
    saved.tensors[named[i].first] = named[i].second.value();
    for (const std::string& kind : opt.state_kinds())
      saved.tensors["optimizer." + kind + "." + named[i].first] = opt.state(kind, i);
  }
  for (const auto& [name, t] : model.named_buffers()) saved.tensors[name] = t;
  for (const auto& [name, value] : opt.hyperparameters())
    saved.metadata["optimizer." + name] = nlohmann::json(value).dump();
  saved.metadata["optimizer.type"] = opt.name();
  saved.metadata["optimizer.step"] = std::to_string(opt.step_count());
  return saved;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc == 3 ? argv[1] : "";
    if (mode != "write" && mode != "read") {
      std::cerr << "usage: safetensors_interop write|read <path>\n";
      return 2;
    }
    const SafetensorsContents c = mode == "write" ? write_sample(argv[2]) : load_safetensors(argv[2]);
    std::cout << describe(c).dump() << "\n";
    return 0;
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
