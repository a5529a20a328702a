// Fuzz target: the model configs' JSON reader (layers/config_json.h) on arbitrary text: the
// language model, the encoder-decoder and the attention alone.
#include <string>

#include "core/error.h"
#include "layers/config_json.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    fwp::LMConfig c = fwp::config_from_json_string<fwp::LMConfig>(text);
    (void)fwp::config_to_json_string(c);
  } catch (const fwp::Error&) {
  }
  try {
    (void)fwp::config_from_json_string<fwp::Seq2SeqConfig>(text);
  } catch (const fwp::Error&) {
  }
  try {
    (void)fwp::config_from_json_string<fwp::AttentionConfig>(text);
  } catch (const fwp::Error&) {
  }
  return 0;
}
