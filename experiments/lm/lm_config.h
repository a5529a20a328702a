// The model of fwp-lm from command-line flags or a JSON file (layers/config_json.h format).
// Order: the defaults (the paper's small model with the delta rule, docs/THEORY.md section 9.2) or
// the JSON file; then --attention <preset> replaces the attention (AttentionConfig::preset:
// softmax, linear, performer, dpfp, delta, dpfp_delta, favor_delta, fwm, and any preset added
// there); then single fields (--rule, --phi, --nu, --m, ...) override it. Names are passed to the
// layers' own parsers, so a new update rule or preset is selectable here without a code change.
#pragma once
#include <optional>
#include <string>

#include "layers/transformer.h"

namespace fwp::lm {

// What the command line said about the model; an empty optional / string means "not given".
struct ModelFlags {
  std::string config_file;  // JSON of an LMConfig (vocab_size is taken from the data)
  std::optional<int64_t> layers, d_model, d_ff, heads, d_head;
  std::optional<double> dropout;
  std::string attention;    // preset name
  std::string rule, phi, favor_redraw;
  std::optional<int64_t> nu, m;
  std::optional<bool> sum_normalize, attention_normalize, positional;
};

// LMConfig's defaults (layers/transformer.h: the paper's small model) with the "delta" preset at
// AttentionConfig's default heads and width. fwp-lm's --help shows these values.
LMConfig default_model_config();

// Applies the rules above; throws fwp::Error naming the bad flag, preset or file.
LMConfig build_model_config(const ModelFlags& flags, int64_t vocab_size);

}  // namespace fwp::lm
