// Training checkpoints sit on top of optim/checkpoint.h (parameters, buffers, optimizer state);
// this file adds the run's position, the random generators and a checksum as metadata, and
// verifies all of it before anything is restored.
#include "experiments/common/training_checkpoint.h"

#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/safetensors.h"
#include "experiments/common/run_utils.h"
#include "experiments/common/training.h"
#include "optim/checkpoint.h"

namespace fwp::experiments {

namespace {

const std::string kTrain = "train.", kModuleRng = "rng.module.", kRunRng = "rng.run.";

// 64-bit FNV-1a over bytes (Fowler, Noll, Vo; offset basis and prime of the 64-bit variant).
uint64_t fnv1a(const void* data, size_t n, uint64_t h = 14695981039346656037ull) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

// A tensor's hash covers dtype, shape and bytes. The checkpoint checksum is the SUM of the
// tensor hashes (order-free, so saving and loading need not agree on an order) plus the hash of
// the run metadata (keys in sorted order).
uint64_t tensor_hash(const Tensor& t) {
  if (t.device() != Device::cpu) return tensor_hash(t.to(Device::cpu));  // the bytes saved
  std::string head = cat(static_cast<int>(t.dtype()), ":", t.shape());
  return fnv1a(t.raw_data(), t.nbytes(), fnv1a(head.data(), head.size()));
}

// Every key counts (the optimizer's hyper-parameters too): all of it is training state. Files of
// fwp before that hashed only train.*, rng.* and optimizer.step (`legacy`), which is how an
// edited optimizer.beta2 went unnoticed; such a file is refused with that explanation.
uint64_t metadata_hash(const std::map<std::string, std::string>& meta, bool legacy = false) {
  uint64_t h = fnv1a("meta", 4);
  for (const auto& [k, v] : meta) {
    const bool ours = !legacy || k.rfind(kTrain, 0) == 0 || k.rfind("rng.", 0) == 0 ||
                      k == "optimizer.step";
    if (!ours || k == "train.checksum") continue;
    h = fnv1a(k.data(), k.size() + 1, h);  // + 1: the terminating NUL separates key and value
    h = fnv1a(v.data(), v.size() + 1, h);
  }
  return h;
}

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string rng_to_string(const Rng& rng) {
  std::string s;
  for (uint64_t w : rng.state()) {
    if (!s.empty()) s += ',';
    s += hex(w);
  }
  return s;
}

std::vector<uint64_t> rng_from_string(const std::string& who, const std::string& key,
                                      const std::string& text) {
  std::vector<uint64_t> words;
  std::stringstream ss(text);
  for (std::string w; std::getline(ss, w, ',');) {
    uint64_t v = 0;
    auto r = std::from_chars(w.data(), w.data() + w.size(), v, 16);
    FWP_CHECK(r.ec == std::errc() && r.ptr == w.data() + w.size(), who, ": metadata '", key,
              "' is not a generator state: '", text, "'");
    words.push_back(v);
  }
  FWP_CHECK(words.size() == Rng().state().size(), who, ": metadata '", key, "' has ",
            words.size(), " words, a generator state has ", Rng().state().size());
  return words;
}

std::string exact_number(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

template <typename T>
T parse_number(const std::string& who, const std::map<std::string, std::string>& meta,
               const std::string& key) {
  auto it = meta.find(key);
  FWP_CHECK(it != meta.end(), who, ": metadata '", key,
            "' is missing (not a training checkpoint of fwp-experiments?)");
  T v{};
  const std::string& s = it->second;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  FWP_CHECK(r.ec == std::errc() && r.ptr == s.data() + s.size(), who, ": metadata '", key,
            "' is not a number: '", s, "'");
  return v;
}

// Leaf paths of a JSON value ("model.attention.rule") that differ between a and b.
void json_diff(const nlohmann::json& a, const nlohmann::json& b, const std::string& path,
               std::vector<std::string>& out) {
  if (a.is_object() && b.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      const std::string p = path.empty() ? it.key() : path + "." + it.key();
      if (!b.contains(it.key())) out.push_back(p + " (only in the checkpoint)");
      else json_diff(*it, b.at(it.key()), p, out);
    }
    for (auto it = b.begin(); it != b.end(); ++it)
      if (!a.contains(it.key())) out.push_back((path.empty() ? "" : path + ".") + it.key() + " (new)");
  } else if (a != b) {
    out.push_back(cat(path.empty() ? "(value)" : path, ": ", a.dump(), " -> ", b.dump()));
  }
}

std::string describe_difference(const std::string& saved, const std::string& now) {
  nlohmann::json a = nlohmann::json::parse(saved, nullptr, false),
                 b = nlohmann::json::parse(now, nullptr, false);
  if (a.is_discarded() || b.is_discarded()) return cat("saved '", saved, "', now '", now, "'");
  std::vector<std::string> diffs;
  json_diff(a, b, "", diffs);
  std::string s;
  for (size_t i = 0; i < diffs.size() && i < 8; ++i) s += (i ? "; " : "") + diffs[i];
  if (diffs.size() > 8) s += cat("; ... (", diffs.size(), " differences)");
  return s;
}

}  // namespace

void save_training_checkpoint(const std::string& path, const Module& module,
                              const Optimizer& optimizer, const TrainingState& state,
                              const std::map<std::string, Rng*>& rngs,
                              const std::string& fingerprint) {
  FWP_CHECK(state.step == optimizer.step_count(), "save_training_checkpoint: '", path,
            "': state.step ", state.step, " differs from the optimizer's step count ",
            optimizer.step_count());
  std::map<std::string, std::string> meta;
  meta["train.step"] = std::to_string(state.step);
  meta["train.tokens_seen"] = std::to_string(state.tokens_seen);
  meta["train.epoch"] = std::to_string(state.epoch);
  meta["train.position"] = std::to_string(state.position);
  meta["train.seconds"] = exact_number(state.seconds);
  meta["train.fingerprint"] = fingerprint;
  for (const auto& [k, v] : state.extra) meta[kTrain + "extra." + k] = v;
  for (const auto& [name, rng] : module.named_rngs()) meta[kModuleRng + name] = rng_to_string(*rng);
  for (const auto& [name, rng] : rngs) meta[kRunRng + name] = rng_to_string(*rng);

  // The last checkpoint on disk is always a finite one: a diverged state is refused, by name.
  std::string bad = find_non_finite(optimizer);
  for (const auto& [name, t] : module.named_buffers())
    if (bad.empty() && !all_finite(t)) bad = cat("buffer '", name, "'");
  for (const auto& [name, t] : state.tensors)
    if (bad.empty() && !all_finite(t)) bad = cat("run tensor '", name, "'");
  FWP_CHECK(bad.empty(), "save_training_checkpoint: '", path, "': ", bad,
            " holds non-finite values; the checkpoint on disk is left as it was");
  uint64_t sum = 0;
  for (const auto& [name, v] : module.named_parameters()) sum += tensor_hash(v.value());
  for (const auto& [name, t] : module.named_buffers()) sum += tensor_hash(t);
  for (const std::string& kind : optimizer.state_kinds())
    for (size_t i = 0; i < optimizer.params().size(); ++i) sum += tensor_hash(optimizer.state(kind, i));
  for (const auto& [name, t] : state.tensors) sum += tensor_hash(t);
  std::map<std::string, std::string> hashed = meta;
  hashed["optimizer.type"] = optimizer.name();  // as save_checkpoint writes them
  hashed["optimizer.step"] = std::to_string(optimizer.step_count());
  for (const auto& [name, value] : optimizer.hyperparameters())
    hashed["optimizer." + name] = exact_number(value);
  meta["train.checksum"] = hex(sum + metadata_hash(hashed));
  save_checkpoint(path, module, &optimizer, meta, state.tensors);
  keep_run_folders();  // a new state to resume from: a later failure leaves the folder so
}

namespace {
// Reads a training checkpoint and checks its checksum (over every tensor and every metadata key)
// and that every tensor is finite. Throws fwp::Error naming the file.
SafetensorsContents read_verified(const std::string& path) {
  const std::string who = cat("checkpoint '", path, "'");
  SafetensorsContents file = load_safetensors(path);
  const auto& meta = file.metadata;
  auto checksum = meta.find("train.checksum");
  FWP_CHECK(checksum != meta.end(), who, " has no train.checksum (not a training checkpoint)");
  uint64_t tensors = 0;
  for (const auto& [name, t] : file.tensors) tensors += tensor_hash(t);
  if (hex(tensors + metadata_hash(meta)) != checksum->second) {
    FWP_CHECK(hex(tensors + metadata_hash(meta, true)) != checksum->second, who,
              " was written by an earlier fwp whose checksum left out the optimizer's settings; "
              "it cannot be verified (start the run again, or evaluate it with that version)");
    throw Error(cat(who, " is corrupt: checksum ", hex(tensors + metadata_hash(meta)),
                    " does not match the stored ", checksum->second));
  }
  for (const auto& [name, t] : file.tensors)
    FWP_CHECK(all_finite(t), who, ": tensor '", name, "' holds non-finite values");
  return file;
}
}  // namespace

std::map<std::string, std::string> load_verified_checkpoint(const std::string& path, Module& module) {
  read_verified(path);
  return load_checkpoint(path, module);
}

TrainingState load_training_checkpoint(const std::string& path, Module& module,
                                       Optimizer& optimizer, const std::map<std::string, Rng*>& rngs,
                                       const std::string& fingerprint) {
  const std::string who = cat("checkpoint '", path, "'");
  // pass 1: read the whole file and check everything that is ours
  SafetensorsContents file = read_verified(path);
  const auto& meta = file.metadata;

  TrainingState s;
  s.step = parse_number<int64_t>(who, meta, "train.step");
  s.tokens_seen = parse_number<int64_t>(who, meta, "train.tokens_seen");
  s.epoch = parse_number<int64_t>(who, meta, "train.epoch");
  s.position = parse_number<int64_t>(who, meta, "train.position");
  s.seconds = parse_number<double>(who, meta, "train.seconds");
  FWP_CHECK(s.step == parse_number<int64_t>(who, meta, "optimizer.step"), who, ": train.step ",
            s.step, " differs from optimizer.step");
  const std::string extra_prefix = kTrain + "extra.";
  for (const auto& [k, v] : meta)
    if (k.rfind(extra_prefix, 0) == 0) s.extra[k.substr(extra_prefix.size())] = v;
  if (!fingerprint.empty()) {
    const std::string& saved = meta.count("train.fingerprint") ? meta.at("train.fingerprint") : "";
    FWP_CHECK(saved == fingerprint, who, " was written by a run with a different configuration: ",
              describe_difference(saved, fingerprint));
  }
  std::vector<std::pair<Rng*, std::vector<uint64_t>>> rng_states;
  auto want_rng = [&](const std::string& key, Rng* rng) {
    auto it = meta.find(key);
    FWP_CHECK(it != meta.end(), who, ": no state for the random generator '", key, "'");
    rng_states.emplace_back(rng, rng_from_string(who, key, it->second));
  };
  for (const auto& [name, rng] : module.named_rngs()) want_rng(kModuleRng + name, rng);
  for (const auto& [name, rng] : rngs) want_rng(kRunRng + name, rng);

  // pass 2: parameters, buffers and optimizer (load_checkpoint checks names and shapes before
  // it copies anything), then the generators
  load_checkpoint(path, module, &optimizer, &s.tensors);
  for (auto& [rng, words] : rng_states) rng->set_state(words);
  return s;
}

}  // namespace fwp::experiments
