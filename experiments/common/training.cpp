// Implementation of the shared training utilities. Checkpoints sit on top of optim/checkpoint.h
// (parameters, buffers, optimizer state); this file adds the run's position, the random
// generators and a checksum as metadata, and verifies all of it before anything is restored.
#include "experiments/common/training.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstring>
#include <omp.h>
#include <sstream>

#include "autograd/tape.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/safetensors.h"
#include "experiments/common/distributed.h"
#include "experiments/common/run_utils.h"
#include "optim/checkpoint.h"
#include "optim/schedule.h"

namespace fwp::experiments {

// ---------------------------------------------------------------- schedule

double LrSchedule::at(int64_t step) const {
  const double s = static_cast<double>(step) + 1.0, W = static_cast<double>(warmup_steps);
  switch (kind) {
    case Kind::cosine: return warmup_cosine_lr(step, base_lr, warmup_steps, total_steps);
    case Kind::constant: return step < warmup_steps ? base_lr * s / W : base_lr;
    case Kind::inverse_sqrt: return warmup_steps <= 0 ? base_lr : base_lr * std::min(s / W, std::sqrt(W / s));
  }
  return base_lr;
}

LrSchedule::Kind lr_schedule_kind_from_string(const std::string& name) {
  if (name == "cosine") return LrSchedule::Kind::cosine;
  if (name == "constant") return LrSchedule::Kind::constant;
  if (name == "inverse_sqrt") return LrSchedule::Kind::inverse_sqrt;
  throw Error(cat("unknown learning-rate schedule '", name, "' (expected cosine, constant or inverse_sqrt)"));
}

int64_t resolve_warmup(int64_t warmup, int64_t steps) {
  if (warmup < 0) return steps / 10;
  FWP_CHECK(warmup <= steps, "--warmup ", warmup, " is longer than the run (--steps ", steps,
            "): give --warmup <= ", steps, ", or leave it out for a tenth of the steps");
  return warmup;
}

std::string to_string(LrSchedule::Kind kind) {
  switch (kind) {
    case LrSchedule::Kind::cosine: return "cosine";
    case LrSchedule::Kind::constant: return "constant";
    case LrSchedule::Kind::inverse_sqrt: return "inverse_sqrt";
  }
  return "?";
}

// ---------------------------------------------------------------- one step

StepResult train_step(Optimizer& optimizer, const Variable& loss, const LrSchedule& schedule,
                      double clip_norm, GradientAverager* averager) {
  StepResult r;
  const int64_t step = optimizer.step_count();
  r.lr = schedule.at(step);
  // with an averager, a process whose share of the batch is empty passes no loss
  r.loss = averager ? averager->mean(loss.defined() ? loss.item() : 0.0) : loss.item();
  optimizer.zero_grad();
  if (!std::isfinite(r.loss)) {
    active_tape().clear();  // drop the recorded graph; nothing was updated
    throw Error(cat("training diverged at step ", step + 1, ": the loss is ", r.loss,
                    "; nothing was updated"));
  }
  if (averager) {
    averager->backward(loss);
  } else {
    backward(loss);
  }
  r.grad_norm = clip_grad_norm_(optimizer.params(), clip_norm > 0.0 ? clip_norm : INFINITY);
  if (!std::isfinite(r.grad_norm)) {  // name the first gradient that holds a NaN or an inf
    std::string which = "a gradient";
    for (const Variable& p : optimizer.params())
      if (p.has_grad() && !all_finite(p.grad())) {
        which = cat("the gradient of '", p.name(), "'");
        break;
      }
    throw Error(cat("training diverged at step ", step + 1, ": ", which,
                    " holds non-finite values (gradient norm ", r.grad_norm,
                    "); nothing was updated"));
  }
  optimizer.set_lr(r.lr);
  optimizer.step();
  // A step can overflow what it updates (a huge learning rate): name it before anything saves it.
  const std::string bad = find_non_finite(optimizer);
  FWP_CHECK(bad.empty(), "training diverged at step ", step + 1, ": ", bad,
            " holds non-finite values after the update (lr ", r.lr, ", loss ", r.loss,
            ", gradient norm ", r.grad_norm, ")");
  return r;
}

bool all_finite(const Tensor& t) {
  require_cpu(t, "all_finite", "t");
  // NaN and inf are the values whose exponent bits are all ones; integer tests vectorise
  auto scan = [n = t.numel()]<typename F, typename U>(const F* x, U exponent) {
    bool bad = false;
    for (int64_t i = 0; i < n; ++i) bad |= (std::bit_cast<U>(x[i]) & exponent) == exponent;
    return !bad;
  };
  if (t.dtype() == DType::f32) return scan(t.data<float>(), uint32_t(0x7f800000u));
  return scan(t.data<double>(), uint64_t(0x7ff0000000000000ull));
}

void name_parameters(const Module& module) {
  for (const auto& [path, v] : module.named_parameters()) {
    Variable handle = v;  // shares the parameter: the name is the parameter's
    handle.set_name(path);
  }
}

std::string find_non_finite(const Optimizer& optimizer) {
  for (const Variable& p : optimizer.params())
    if (!all_finite(p.value())) return cat("parameter '", p.name(), "'");
  for (const std::string& kind : optimizer.state_kinds())
    for (size_t i = 0; i < optimizer.params().size(); ++i)
      if (!all_finite(optimizer.state(kind, i)))
        return cat("optimizer state '", kind, "' of '", optimizer.params()[i].name(), "'");
  return "";
}

// ---------------------------------------------------------------- progress

Progress::Progress(int64_t first_step, int64_t total_steps)
    : first_step_(first_step), total_steps_(total_steps) {}

void Progress::step_done(int64_t tokens, double seconds) {
  interval_tokens_ += tokens;
  interval_seconds_ += seconds;
}

bool Progress::due(int64_t step, int64_t every, double seconds) const {
  return step == first_step_ + 1 || (every > 0 && step % every == 0) || step >= total_steps_ ||
         (seconds > 0.0 && wall_.seconds() - last_line_ >= seconds);
}

std::string Progress::line(int64_t step, double loss, double lr) {
  last_rate_ = interval_seconds_ > 0.0 ? interval_tokens_ / interval_seconds_ : 0.0;
  interval_tokens_ = 0;
  interval_seconds_ = 0.0;
  const double elapsed = last_line_ = wall_.seconds();
  const int64_t done = step - first_step_;
  char buf[256];
  std::snprintf(buf, sizeof buf, "step %*lld/%lld | loss %.4f | lr %.2e | %.0f tok/s | %s elapsed",
                int(std::to_string(total_steps_).size()), static_cast<long long>(step),
                static_cast<long long>(total_steps_), loss, lr, last_rate_,
                format_duration(elapsed).c_str());
  std::string s = buf;
  if (done > 0 && step < total_steps_)
    s += " | ETA " + format_duration(elapsed / double(done) * double(total_steps_ - step));
  return s;
}

// ---------------------------------------------------------------- checkpoints

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

// ---------------------------------------------------------------- metrics and results

MetricsCsv::MetricsCsv(std::string path, std::vector<std::string> columns)
    : path_(std::move(path)), columns_(columns), table_(std::move(columns)) {}

void MetricsCsv::resume(int64_t step) {
  CsvTable old(columns_);
  old.load(path_);
  table_ = CsvTable(columns_);
  for (const auto& row : old.rows()) {
    int64_t s = 0;
    auto r = std::from_chars(row[0].data(), row[0].data() + row[0].size(), s);
    if (r.ec == std::errc() && s <= step) table_.add_row(row);
  }
  table_.save(path_);
}

void MetricsCsv::add(const std::vector<double>& values) {
  std::vector<std::string> row;
  for (double v : values) row.push_back(std::isnan(v) ? "" : format_double(v, 8));
  table_.add_row(std::move(row));
  table_.save(path_);
}

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(cat("'", path, "' is not valid JSON: ", e.what()));
  }
}

double MetricsCsv::last(const std::string& column) const {
  const int c = table_.column(column);
  for (auto it = table_.rows().rbegin(); it != table_.rows().rend(); ++it) {
    const std::string& v = (*it)[c];
    double x = 0.0;
    auto r = std::from_chars(v.data(), v.data() + v.size(), x);
    if (!v.empty() && r.ec == std::errc() && r.ptr == v.data() + v.size()) return x;
  }
  return NAN;
}

void write_json(const std::string& path, const nlohmann::json& j) {
  write_file_atomic(path, j.dump(2) + "\n");
}

// ---------------------------------------------------------------- process

namespace {
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int sig) {
  g_stop = 1;
  std::signal(sig, SIG_DFL);  // a second signal terminates
}
}  // namespace

void install_stop_handler(bool on) {
  std::signal(SIGINT, on ? on_stop_signal : SIG_DFL);
  std::signal(SIGTERM, on ? on_stop_signal : SIG_DFL);
}

bool stop_requested() { return g_stop != 0; }

void check_device(const std::string& device) {
  if (device == "cpu") return;
  if (device == "cuda")
    throw Error("--device cuda: this build has no CUDA backend yet (use --device cpu)");
  throw Error(cat("unknown device '", device, "' (expected cpu or cuda)"));
}

int set_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
  return omp_get_max_threads();
}

}  // namespace fwp::experiments
