// Fuzz target: the safetensors reader (core/safetensors.h) on arbitrary bytes.
#include "core/error.h"
#include "core/safetensors.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fwp_fuzz::MemFile file("safetensors");
  try {
    fwp::SafetensorsContents c = fwp::load_safetensors(file.hold(data, size));
    for (const auto& [name, t] : c.tensors) (void)t.nbytes();
  } catch (const fwp::Error&) {
  }
  return 0;
}
