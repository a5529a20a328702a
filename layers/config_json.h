// Model configurations <-> JSON, so experiments and checkpoints record exactly what they ran.
// Reading is strict: an unknown key or a wrong type is an error naming the key (a typo in a
// config file must not silently fall back to a default). Missing keys keep their defaults.
#pragma once
#include <nlohmann/json.hpp>

#include "layers/attention.h"
#include "layers/seq2seq.h"
#include "layers/transformer.h"

namespace fwp {

void to_json(nlohmann::json& j, const FeatureMapConfig& c);
void from_json(const nlohmann::json& j, FeatureMapConfig& c);
void to_json(nlohmann::json& j, const AttentionConfig& c);
void from_json(const nlohmann::json& j, AttentionConfig& c);
void to_json(nlohmann::json& j, const LMConfig& c);
void from_json(const nlohmann::json& j, LMConfig& c);
void to_json(nlohmann::json& j, const Seq2SeqConfig& c);
void from_json(const nlohmann::json& j, Seq2SeqConfig& c);

// Parse helpers with fwp::Error messages: "config: ..." plus the nlohmann message.
template <typename C>
C config_from_json_string(const std::string& text) {
  try {
    return nlohmann::json::parse(text).get<C>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat("config: cannot read JSON: ", e.what()));
  }
}
template <typename C>
std::string config_to_json_string(const C& c, int indent = 2) {
  return nlohmann::json(c).dump(indent);
}

}  // namespace fwp
