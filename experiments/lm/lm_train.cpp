// The training loop of fwp-lm, its benchmark, and the final evaluation of a split.
#include "experiments/lm/lm_train.h"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <ostream>

#include "autograd/functions.h"
#include "core/file_io.h"
#include "experiments/common/distributed.h"
#include "experiments/common/training.h"
#include "experiments/common/training_checkpoint.h"
#include "experiments/data/lm_data.h"

namespace fwp::lm {

using experiments::format_duration;

nlohmann::json to_json(const LmTrainOptions& o) {
  return {{"batch", o.batch}, {"context", o.context}, {"steps", o.steps}, {"lr", o.lr},
          {"warmup", o.warmup}, {"clip", o.clip}, {"schedule", o.schedule},
          {"carry_over", o.carry_over}, {"log_every", o.log_every}, {"log_seconds", o.log_seconds},
          {"eval_every", o.eval_every},
          {"checkpoint_every", o.checkpoint_every}, {"valid_tokens", o.valid_tokens},
          {"eval_batch", o.eval_batch}, {"out", o.out}, {"resume", o.resume},
          {"stop_after", o.stop_after}};
}

std::map<std::string, Tensor> lm_state_to_tensors(const LMState& state) {
  std::map<std::string, Tensor> out;
  for (size_t l = 0; l < state.layers.size(); ++l) {
    const AttentionState& s = state.layers[l];
    FWP_CHECK(!s.keys.defined(), "lm_state_to_tensors: softmax key caches are not checkpointed");
    if (s.W.defined()) out[cat("carry.", l, ".W")] = s.W.value();
    if (s.z.defined()) out[cat("carry.", l, ".z")] = s.z.value();
  }
  if (!state.layers.empty()) out["carry.length"] = Tensor::scalar(double(state.length), DType::f64);
  return out;
}

LMState lm_state_from_tensors(const std::map<std::string, Tensor>& tensors, int64_t n_layers,
                              Device device) {
  LMState state;
  if (!tensors.count("carry.length")) return state;  // nothing was carried yet
  state.layers.resize(n_layers);
  state.length = static_cast<int64_t>(tensors.at("carry.length").item());
  for (const auto& [name, t] : tensors) {
    if (name == "carry.length") continue;
    const size_t dot = name.find('.', 6);
    FWP_CHECK(name.rfind("carry.", 0) == 0 && dot != std::string::npos,
              "checkpoint: unexpected run tensor '", name, "'");
    int64_t l = -1;
    const auto r = std::from_chars(name.data() + 6, name.data() + dot, l);
    const std::string what = name.substr(dot + 1);
    FWP_CHECK(r.ec == std::errc() && r.ptr == name.data() + dot && l >= 0 && l < n_layers &&
                  (what == "W" || what == "z"),
              "checkpoint: run tensor '", name, "' does not fit a model of ", n_layers, " layers");
    AttentionState& s = state.layers[l];
    (what == "W" ? s.W : s.z) = Variable(t.to(device));  // read on the host, used on the model's
    s.length = state.length;
  }
  return state;
}

namespace {

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<int64_t> head(const std::vector<int64_t>& tokens, int64_t n) {
  if (n <= 0 || n >= int64_t(tokens.size())) return tokens;
  return std::vector<int64_t>(tokens.begin(), tokens.begin() + n);
}

// Data-parallel training (experiments/common/distributed.h) when started by mpirun: each process
// trains on its share of the batch rows, and the gradients are averaged. Null for one process.
std::unique_ptr<experiments::GradientAverager> make_averager(TransformerLM& model, bool carry_over) {
  experiments::Communicator& comm = experiments::world();
  if (comm.size() == 1) return nullptr;
  FWP_CHECK(!carry_over, "--carry-over with ", comm.size(), " processes: the carried fast weights "
            "of each process's rows are not checkpointed yet; run it as one process");
  return std::make_unique<experiments::GradientAverager>(comm, model.parameters());
}

void check_carry(const TransformerLM& model, bool carry_over) {
  FWP_CHECK(!carry_over || model.config().attention.kind == AttentionKind::fast_weight,
            "--carry-over needs fast-weight attention (softmax attention has no fixed-size state "
            "to carry)");
}

}  // namespace

LmTrainResult train_lm(TransformerLM& model, const std::vector<int64_t>& train,
                       const std::vector<int64_t>& valid_all, const LmTrainOptions& o,
                       const std::string& fingerprint, std::ostream& log) {
  check_carry(model, o.carry_over);
  FWP_CHECK(o.steps > 0 && o.log_every > 0 && o.eval_every > 0 && o.checkpoint_every > 0,
            "--steps, --log-every, --eval-every and --checkpoint-every must be positive");
  data::LmBatches batches(train, o.batch, o.context);
  const int64_t n_segments = batches.num_segments();  // >= 1 (LmBatches checks)
  const std::vector<int64_t> valid = head(valid_all, o.valid_tokens);
  // several processes: rank 0 alone logs, evaluates and writes; all of them train
  const bool root = experiments::world().is_root();
  const experiments::BatchShare share = experiments::batch_share(o.batch, "--batch");
  std::unique_ptr<experiments::GradientAverager> averager = make_averager(model, o.carry_over);
  if (root) experiments::make_dirs(o.out);
  const std::string ckpt = o.out + "/checkpoint.safetensors";
  experiments::MetricsCsv metrics(o.out + "/metrics.csv",
                                  {"step", "tokens", "train_loss", "valid_loss", "valid_ppl", "lr",
                                   "tokens_per_s", "grad_norm", "seconds"});
  experiments::name_parameters(model);  // divergence errors name parameters by module path
  Adam optimizer(model.parameters(), AdamOptions{.lr = o.lr});
  experiments::LrSchedule schedule{experiments::lr_schedule_kind_from_string(o.schedule), o.lr,
                                   o.warmup, o.steps};
  experiments::TrainingState st;
  LMState carry;
  if (o.resume && file_exists(ckpt)) {
    st = experiments::load_training_checkpoint(ckpt, model, optimizer, {}, fingerprint);
    carry = lm_state_from_tensors(st.tensors, model.config().n_layers,
                                  model.parameters().front().value().device());
    if (root) metrics.resume(st.step);
    log << "resumed from " << ckpt << " at step " << st.step << " (epoch " << st.epoch
        << ", segment " << st.position << "/" << n_segments << ")" << std::endl;
  } else {
    FWP_CHECK(!file_exists(ckpt), "'", ckpt, "' exists: pass --resume to continue that run, or "
              "choose another --out");
    if (root) metrics.resume(0);  // a fresh file (drops rows an earlier run without checkpoint left)
    if (o.resume) log << "no checkpoint in " << o.out << ": starting from step 0" << std::endl;
  }
  // every process starts from the same parameters (same seed, or the same checkpoint)
  experiments::check_same_on_all_ranks("the parameters at step " + std::to_string(st.step),
                                       experiments::hash_parameters(model.parameters()));
  int64_t saved_step = file_exists(ckpt) ? st.step : -1;  // the checkpoint on disk
  auto save = [&] {
    if (!root) return;
    st.tensors = o.carry_over ? lm_state_to_tensors(carry) : std::map<std::string, Tensor>{};
    experiments::save_training_checkpoint(ckpt, model, optimizer, st, {}, fingerprint);
    saved_step = st.step;
  };

  LmTrainResult result;
  const int64_t first_step = st.step;
  experiments::Progress progress(st.step, o.steps);
  double loss_sum = 0.0, last_norm = 0.0;
  int64_t loss_count = 0;
  model.train();
  while (st.step < o.steps) {
    if (experiments::stop_requested_anywhere() || (o.stop_after > 0 && st.step - first_step >= o.stop_after)) {
      save();
      log << "stopped at step " << st.step << "; checkpoint written, continue with --resume" << std::endl;
      result.interrupted = true;
      break;
    }
    experiments::Stopwatch iteration;
    if (st.position >= n_segments) {  // a new epoch: streams start again from their beginning
      st.position = 0;
      ++st.epoch;
      carry = LMState();
    }
    data::LmBatches::Segment seg = batches.segment(st.position);
    Variable logits = model.forward(experiments::share_rows(seg.input, share), o.carry_over ? &carry : nullptr);
    experiments::StepResult r;
    try {
      r = experiments::train_step(optimizer, cross_entropy(logits, experiments::share_rows(seg.target, share)),
                                  schedule, o.clip, averager.get());
    } catch (const Error& e) {  // diverged: say what is left on disk
      throw Error(cat(e.what(), "; ", saved_step >= 0 ? cat("the checkpoint of step ", saved_step,
                      " in '", ckpt, "' is unchanged") : std::string("no checkpoint was written")));
    }
    if (o.carry_over) carry.detach();
    ++st.step;
    ++st.position;
    st.tokens_seen += seg.target.numel();
    progress.step_done(seg.target.numel(), iteration.seconds());
    loss_sum += r.loss;
    ++loss_count;
    last_norm = r.grad_norm;

    const bool last = st.step == o.steps;
    // a metrics row every log_every steps; a progress line then too, and whenever one is due
    const bool do_log = st.step % o.log_every == 0 || last, do_eval = st.step % o.eval_every == 0 || last;
    double valid_loss = NAN, valid_ppl = NAN;
    result.train_loss = loss_sum / double(loss_count);
    if (root && (do_log || progress.due(st.step, o.log_every, o.log_seconds)))
      log << progress.line(st.step, result.train_loss, r.lr) << std::endl;
    if (root && do_eval && !valid.empty()) {
      EvalResult e = evaluate_segments(model, valid, o.context, o.eval_batch, o.carry_over);
      valid_loss = e.loss();
      valid_ppl = result.valid_perplexity = e.perplexity();
      log << "  valid ppl " << experiments::format_double(valid_ppl, 5) << " (" << e.targets
          << " tokens, " << format_duration(e.seconds) << ")" << std::endl;
    }
    st.seconds += iteration.seconds();
    if (root && (do_log || do_eval)) {
      metrics.add({double(st.step), double(st.tokens_seen), do_log ? result.train_loss : NAN,
                   valid_loss, valid_ppl, r.lr, do_log ? progress.tokens_per_second() : NAN,
                   last_norm, st.seconds});
    }
    if (do_log) loss_sum = 0.0, loss_count = 0;
    if (st.step % o.checkpoint_every == 0 || last) save();
  }
  // resumed at the last step: no step ran here, the loss is the run's last logged one
  if (root && loss_count == 0 && st.step == first_step) result.train_loss = metrics.last("train_loss");
  result.steps = st.step;
  result.tokens_seen = st.tokens_seen;
  result.seconds = st.seconds;
  return result;
}

LmBenchResult bench_lm_training(TransformerLM& model, const std::vector<int64_t>& train,
                                const LmTrainOptions& o, int64_t warmup, int64_t steps) {
  check_carry(model, o.carry_over);
  FWP_CHECK(steps > 0 && warmup >= 0, "--bench needs a positive number of steps");
  data::LmBatches batches(train, o.batch, o.context);
  Adam optimizer(model.parameters(), AdamOptions{.lr = o.lr});
  experiments::LrSchedule schedule{experiments::LrSchedule::Kind::constant, o.lr, 0, 1};
  const experiments::BatchShare share = experiments::batch_share(o.batch, "--batch");
  std::unique_ptr<experiments::GradientAverager> averager = make_averager(model, o.carry_over);
  model.train();
  LMState carry;
  std::vector<double> times, cpu;
  for (int64_t i = 0; i < warmup + steps; ++i) {
    data::LmBatches::Segment seg = batches.segment(i % batches.num_segments());
    const double c0 = cpu_seconds();
    experiments::Stopwatch sw;
    Variable logits = model.forward(experiments::share_rows(seg.input, share), o.carry_over ? &carry : nullptr);
    experiments::train_step(optimizer, cross_entropy(logits, experiments::share_rows(seg.target, share)), schedule,
                            o.clip, averager.get());
    if (o.carry_over) carry.detach();
    if (i >= warmup) {
      times.push_back(sw.seconds());
      cpu.push_back(cpu_seconds() - c0);
    }
  }
  LmBenchResult r;
  r.median_seconds = median(times);
  r.min_seconds = *std::min_element(times.begin(), times.end());
  r.median_cpu_seconds = median(cpu);
  r.tokens_per_second = double(o.batch * o.context) / r.median_seconds;
  return r;
}

nlohmann::json evaluate_split(TransformerLM& model, const std::vector<int64_t>& tokens,
                              const FinalEvalOptions& o, std::ostream& log) {
  nlohmann::json out = nlohmann::json::object();
  auto add = [&](const std::string& name, const EvalResult& e, const std::string& note = "") {
    // a NaN or inf perplexity is no result (JSON would hold null): the model's outputs overflow
    FWP_CHECK(std::isfinite(e.loss()), "evaluation (", name, "): the loss is ", e.loss(),
              " over ", e.targets, " tokens: the model's outputs are not finite");
    out[name] = {{"ppl", e.perplexity()}, {"loss", e.loss()}, {"tokens", e.targets},
                 {"seconds", e.seconds}};
    if (!note.empty()) out[name]["note"] = note;
    log << "  " << name << ": ppl " << experiments::format_double(e.perplexity(), 5) << " ("
        << e.targets << " tokens, " << format_duration(e.seconds) << ")"
        << (note.empty() ? "" : "  [" + note + "]") << std::endl;
  };
  add("segments", evaluate_segments(model, tokens, o.context, o.batch, false, &log));
  if (model.config().attention.kind == AttentionKind::fast_weight)
    add("segments_carry", evaluate_segments(model, tokens, o.context, o.batch, true, &log),
        o.trained_with_carry ? "" : "fast weights carried across segments at test time only: "
                                    "this model was trained without --carry-over");
  if (o.stride > 0)
    add(cat("sliding_s", o.stride),
        evaluate_sliding(model, tokens, o.context, o.stride, o.window_batch, &log));
  if (o.slice > 0)
    add(cat("sliding_s1_first", o.slice),
        evaluate_sliding(model, head(tokens, o.slice), o.context, 1, o.window_batch, &log));
  return out;
}

}  // namespace fwp::lm
