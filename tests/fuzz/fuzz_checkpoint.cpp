// Fuzz target: the checkpoint loaders on arbitrary bytes: the training checkpoint (checksum,
// metadata numbers, generator states, names and shapes against a small model and Adam), the
// verified evaluation load, and the plain module checkpoint (optim/checkpoint.h), which has no
// checksum in front of its parsing.
#include "core/error.h"
#include "experiments/common/training_checkpoint.h"
#include "layers/linear.h"
#include "optim/checkpoint.h"
#include "tests/fuzz/fuzz_input.h"

namespace {
struct Net : fwp::Module {
  std::shared_ptr<fwp::Linear> l1;
  Net() {
    fwp::Rng rng(1);
    l1 = register_module("l1", std::make_shared<fwp::Linear>(3, 2, rng));
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fwp_fuzz::MemFile file("checkpoint");
  static Net net;
  static fwp::Adam adam(net.parameters());
  static fwp::Rng data_rng(3);
  const std::string& path = file.hold(data, size);
  try {
    fwp::experiments::load_training_checkpoint(path, net, adam, {{"data", &data_rng}}, "{\"lr\": 1}");
  } catch (const fwp::Error&) {
  }
  try {
    fwp::experiments::load_verified_checkpoint(path, net);
  } catch (const fwp::Error&) {
  }
  try {
    std::map<std::string, fwp::Tensor> run;
    fwp::load_checkpoint(path, net, &adam, &run);
  } catch (const fwp::Error&) {
  }
  return 0;
}
