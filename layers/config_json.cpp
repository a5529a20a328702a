// JSON conversion of the model configs. Enums are written as their names ("delta", "dpfp").
#include "layers/config_json.h"

#include <cmath>
#include <set>
#include <type_traits>

namespace fwp {

using nlohmann::json;

namespace {
// Throws if j has a key outside `known`, naming it and the section.
void check_keys(const json& j, const char* section, const std::set<std::string>& known) {
  FWP_CHECK(j.is_object(), "config: '", section, "' must be a JSON object, got ", j.dump());
  for (auto it = j.begin(); it != j.end(); ++it)
    FWP_CHECK(known.count(it.key()), "config: unknown key '", it.key(), "' in ", section);
}
// Numbers are checked before they are converted: an integer field takes only a JSON integer in
// [0, 2^24] (5.5e37 or 1.5 are refused, not overflowed or truncated), a real field any finite
// JSON number. Other types go through nlohmann (a type error names the type).
constexpr int64_t kMaxConfigInteger = int64_t(1) << 24;
template <typename T>
void read(const json& j, const char* key, T& out) {
  if (!j.contains(key)) return;
  const json& v = j.at(key);
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    FWP_CHECK(v.is_number_integer() && (v.is_number_unsigned() || v.get<int64_t>() >= 0) &&
                  v.get<uint64_t>() <= uint64_t(kMaxConfigInteger),
              "config: '", key, "' must be an integer in [0, ", kMaxConfigInteger, "], got ", v.dump());
    out = static_cast<T>(v.get<int64_t>());
  } else if constexpr (std::is_floating_point_v<T>) {
    FWP_CHECK(v.is_number() && std::isfinite(v.get<double>()), "config: '", key,
              "' must be a finite number, got ", v.dump());
    out = static_cast<T>(v.get<double>());
  } else {
    out = v.get<T>();
  }
}
}  // namespace

void to_json(json& j, const FeatureMapConfig& c) {
  j = json{{"kind", to_string(c.kind)}, {"nu", c.nu}, {"m", c.m},
           {"redraw", to_string(c.redraw)}, {"favor_eps", c.favor_eps}};
}

void from_json(const json& j, FeatureMapConfig& c) {
  check_keys(j, "feature map", {"kind", "nu", "m", "redraw", "favor_eps"});
  if (j.contains("kind")) c.kind = feature_map_kind_from_string(j.at("kind").get<std::string>());
  if (j.contains("redraw")) c.redraw = favor_redraw_from_string(j.at("redraw").get<std::string>());
  read(j, "nu", c.nu);
  read(j, "m", c.m);
  read(j, "favor_eps", c.favor_eps);
  FWP_CHECK(c.favor_eps >= 0.0, "config: 'favor_eps' must be >= 0, got ", c.favor_eps);
}

void to_json(json& j, const AttentionConfig& c) {
  j = json{{"kind", to_string(c.kind)}, {"rule", to_string(c.rule)}, {"phi", c.phi},
           {"sum_normalize", c.sum_normalize}, {"attention_normalize", c.attention_normalize},
           {"eps", c.eps}, {"n_heads", c.n_heads}, {"d_head", c.d_head},
           {"output_scale", c.output_scale}};
}

void from_json(const json& j, AttentionConfig& c) {
  check_keys(j, "attention", {"kind", "rule", "phi", "sum_normalize", "attention_normalize", "eps",
                              "n_heads", "d_head", "output_scale"});
  if (j.contains("kind")) c.kind = attention_kind_from_string(j.at("kind").get<std::string>());
  if (j.contains("rule")) c.rule = update_rule_from_string(j.at("rule").get<std::string>());
  read(j, "phi", c.phi);
  read(j, "sum_normalize", c.sum_normalize);
  read(j, "attention_normalize", c.attention_normalize);
  read(j, "eps", c.eps);
  FWP_CHECK(c.eps >= 0.0, "config: 'eps' must be >= 0, got ", c.eps);
  read(j, "n_heads", c.n_heads);
  read(j, "d_head", c.d_head);
  read(j, "output_scale", c.output_scale);
}

void to_json(json& j, const LMConfig& c) {
  j = json{{"vocab_size", c.vocab_size}, {"d_model", c.d_model}, {"n_layers", c.n_layers},
           {"d_ff", c.d_ff}, {"dropout", c.dropout}, {"positional", c.positional},
           {"init_std", c.init_std}, {"attention", c.attention}};
}

void from_json(const json& j, LMConfig& c) {
  check_keys(j, "language model", {"vocab_size", "d_model", "n_layers", "d_ff", "dropout",
                                   "positional", "init_std", "attention"});
  read(j, "vocab_size", c.vocab_size);
  read(j, "d_model", c.d_model);
  read(j, "n_layers", c.n_layers);
  read(j, "d_ff", c.d_ff);
  read(j, "dropout", c.dropout);
  read(j, "positional", c.positional);
  read(j, "init_std", c.init_std);
  read(j, "attention", c.attention);
}

void to_json(json& j, const Seq2SeqConfig& c) {
  j = json{{"src_vocab", c.src_vocab}, {"tgt_vocab", c.tgt_vocab}, {"d_model", c.d_model},
           {"n_encoder_layers", c.n_encoder_layers}, {"n_decoder_layers", c.n_decoder_layers},
           {"d_ff", c.d_ff}, {"dropout", c.dropout}, {"init_std", c.init_std},
           {"encoder_attention", c.encoder_attention}, {"decoder_attention", c.decoder_attention},
           {"cross_attention", c.cross_attention}};
}

void from_json(const json& j, Seq2SeqConfig& c) {
  check_keys(j, "seq2seq", {"src_vocab", "tgt_vocab", "d_model", "n_encoder_layers",
                            "n_decoder_layers", "d_ff", "dropout", "init_std", "encoder_attention",
                            "decoder_attention", "cross_attention"});
  read(j, "src_vocab", c.src_vocab);
  read(j, "tgt_vocab", c.tgt_vocab);
  read(j, "d_model", c.d_model);
  read(j, "n_encoder_layers", c.n_encoder_layers);
  read(j, "n_decoder_layers", c.n_decoder_layers);
  read(j, "d_ff", c.d_ff);
  read(j, "dropout", c.dropout);
  read(j, "init_std", c.init_std);
  read(j, "encoder_attention", c.encoder_attention);
  read(j, "decoder_attention", c.decoder_attention);
  read(j, "cross_attention", c.cross_attention);
}

}  // namespace fwp
