// fwp-lm's model configuration: defaults, JSON file, preset, single-field overrides.
#include "experiments/lm/lm_config.h"

#include "core/file_io.h"
#include "layers/config_json.h"

namespace fwp::lm {

LMConfig default_model_config() {
  LMConfig c;  // sizes, dropout and init: LMConfig's own defaults (layers/transformer.h)
  c.attention = AttentionConfig::preset("delta", c.attention.n_heads, c.attention.d_head);
  return c;
}

LMConfig build_model_config(const ModelFlags& f, int64_t vocab_size) {
  LMConfig c = default_model_config();
  if (!f.config_file.empty()) {
    FWP_CHECK(file_exists(f.config_file), "--model-config: cannot read '", f.config_file, "'");
    try {
      c = config_from_json_string<LMConfig>(read_file(f.config_file));
    } catch (const Error& e) {
      throw Error(cat("--model-config '", f.config_file, "': ", e.what()));
    }
  }
  c.vocab_size = vocab_size;
  if (f.layers) c.n_layers = *f.layers;
  if (f.d_model) c.d_model = *f.d_model;
  if (f.d_ff) c.d_ff = *f.d_ff;
  if (f.dropout) c.dropout = *f.dropout;
  if (f.positional) c.positional = *f.positional;
  const int64_t heads = f.heads.value_or(c.attention.n_heads);
  const int64_t d_head = f.d_head.value_or(c.attention.d_head);
  if (!f.attention.empty()) {
    try {
      c.attention = AttentionConfig::preset(f.attention, heads, d_head);
    } catch (const Error& e) {
      throw Error(cat("--attention: ", e.what()));
    }
  }
  AttentionConfig& a = c.attention;
  a.n_heads = heads;
  a.d_head = d_head;
  try {
    if (!f.rule.empty()) {
      a.kind = AttentionKind::fast_weight;  // a rule implies fast weights
      a.rule = update_rule_from_string(f.rule);
    }
    if (!f.phi.empty()) a.phi.kind = feature_map_kind_from_string(f.phi);
    if (!f.favor_redraw.empty()) a.phi.redraw = favor_redraw_from_string(f.favor_redraw);
  } catch (const Error& e) {
    throw Error(cat("model flags: ", e.what()));
  }
  if (f.nu) a.phi.nu = *f.nu;
  if (f.m) a.phi.m = *f.m;
  if (f.sum_normalize) a.sum_normalize = *f.sum_normalize;
  if (f.attention_normalize) a.attention_normalize = *f.attention_normalize;
  FWP_CHECK(c.n_layers > 0 && c.d_model > 0 && c.d_ff > 0 && heads > 0 && d_head > 0,
            "model sizes must be positive, got --layers ", c.n_layers, " --d-model ", c.d_model,
            " --d-ff ", c.d_ff, " --heads ", heads, " --d-head ", d_head);
  FWP_CHECK(c.dropout >= 0.0 && c.dropout < 1.0, "--dropout must be in [0, 1), got ", c.dropout);
  FWP_CHECK(a.phi.nu >= 1 && a.phi.m >= 1, "--nu and --m must be >= 1, got ", a.phi.nu, " and ", a.phi.m);
  return c;
}

}  // namespace fwp::lm
