// fwp-mt's data loading, loss, training loop and split evaluation (train.h).
#include "experiments/mt/train.h"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "autograd/functions.h"
#include "autograd/tape.h"
#include "core/file_io.h"
#include "experiments/common/distributed.h"
#include "experiments/common/training_checkpoint.h"
#include "optim/checkpoint.h"
#include "optim/optimizer.h"

namespace fwp::mt {

namespace ex = fwp::experiments;

namespace {

DType model_dtype(const Seq2Seq& model) { return model.named_parameters().front().second.dtype(); }

MtSplit load_split(const std::string& dir, const std::string& name, const std::string& src,
                   const std::string& tgt, const data::SubwordTokenizer& tok) {
  data::ParallelText text = data::read_parallel(dir + "/" + name + "." + src, dir + "/" + name + "." + tgt);
  FWP_CHECK(!text.src.empty(), "fwp-mt: '", dir, "/", name, ".", src, "' is empty");
  MtSplit s;
  s.examples = data::encode_parallel(text, tok);
  s.references = std::move(text.tgt);
  return s;
}

}  // namespace

const MtSplit& MtData::split(const std::string& name) const {
  if (name == "train") return train;
  if (name == "valid") return valid;
  if (name == "test") return test;
  throw Error(cat("unknown split '", name, "' (expected train, valid or test)"));
}

MtData load_mt_data(const std::string& dir, const std::string& src, const std::string& tgt) {
  MtData d{data::SubwordTokenizer(dir + "/spm.model"), {}, {}, {}};
  d.train = load_split(dir, "train", src, tgt, d.tokenizer);
  d.valid = load_split(dir, "valid", src, tgt, d.tokenizer);
  d.test = load_split(dir, "test", src, tgt, d.tokenizer);
  return d;
}

MtLoss label_smoothed_loss(const Variable& logits, const Indices& targets, double eps, int64_t pad) {
  FWP_CHECK(eps >= 0.0 && eps < 1.0, "label_smoothed_loss: eps must be in [0, 1), got ", eps);
  FWP_CHECK_SHAPE(logits.dim() == 3 && targets.shape == Shape({logits.size(0), logits.size(1)}),
                  "label_smoothed_loss: logits (B, T, V) and targets (B, T) required, got logits=",
                  logits.shape(), " targets=", targets.shape);
  MtLoss r;
  std::vector<double> mask(targets.numel());
  for (int64_t i = 0; i < targets.numel(); ++i) {
    mask[i] = targets.values[i] != pad ? 1.0 : 0.0;
    r.tokens += targets.values[i] != pad;
  }
  Variable nll = cross_entropy(logits, targets, pad);  // mean over non-pad positions
  r.nll = nll.item();
  if (eps == 0.0 || r.tokens == 0) {
    r.loss = nll;
    return r;
  }
  // mean_v(-log p_v) at every position, averaged over the non-pad ones
  Variable uniform = neg(mean(log_softmax(logits, -1), {-1}));  // (B, T)
  Variable m(Tensor::from_vector(mask, targets.shape, logits.dtype()).to(logits.value().device()));
  Variable smooth = sum(uniform * m) * (1.0 / double(r.tokens));
  r.loss = nll * (1.0 - eps) + smooth * eps;
  return r;
}

Variable forward_batch(Seq2Seq& model, const data::MtBatch& batch) {
  Tensor valid = source_valid_mask(batch, model_dtype(model));
  Variable memory = model.encode(batch.src, valid);
  return model.decode(batch.tgt_in, memory, valid);
}

double evaluate_loss(Seq2Seq& model, const std::vector<data::MtBatch>& batches) {
  NoGradGuard no_grad;
  const bool was_training = model.training();
  model.eval();
  double total = 0.0;
  int64_t tokens = 0;
  for (const data::MtBatch& b : batches) {
    MtLoss l = label_smoothed_loss(forward_batch(model, b), b.tgt_out, 0.0, data::SubwordTokenizer::kPad);
    total += l.nll * double(l.tokens);
    tokens += l.tokens;
  }
  model.train(was_training);
  return tokens > 0 ? total / double(tokens) : 0.0;
}

std::string checkpoint_path(const std::string& out) { return out + "/checkpoint.safetensors"; }

namespace {
// This process's sentences of a batch under mpirun: rows [B r / N, B (r + 1) / N) (a share may be
// empty when a batch has fewer sentences than there are processes).
data::MtBatch batch_rows(const data::MtBatch& b, const ex::Communicator& comm) {
  const int64_t B = b.src.shape[0], n = comm.size(), r = comm.rank();
  const ex::BatchShare share{B * r / n, B * (r + 1) / n};
  auto slice = [&](const std::vector<int64_t>& v) {
    return std::vector<int64_t>(v.begin() + share.begin, v.begin() + share.end);
  };
  return {ex::share_rows(b.src, share), ex::share_rows(b.tgt_in, share),
          ex::share_rows(b.tgt_out, share), slice(b.src_lengths), slice(b.tgt_lengths),
          slice(b.index)};
}
}  // namespace

MtTrainResult train(Seq2Seq& model, const MtData& data, const MtTrainOptions& o) {
  FWP_CHECK(o.steps >= 0 && o.log_every > 0 && o.eval_every > 0 && o.max_tokens > 0,
            "fwp-mt: steps >= 0, log/eval intervals > 0 and max_tokens > 0 required, got steps=",
            o.steps, " log_every=", o.log_every, " eval_every=", o.eval_every, " max_tokens=", o.max_tokens);
  // Under mpirun (experiments/common/distributed.h) each process trains on its share of the
  // sentences of every batch; rank 0 alone logs, evaluates and writes.
  ex::Communicator& comm = ex::world();
  const bool root = comm.is_root();
  std::unique_ptr<ex::GradientAverager> averager;
  if (comm.size() > 1) averager = std::make_unique<ex::GradientAverager>(comm, model.parameters());
  std::ostream& out = root ? std::cout : ex::null_stream();
  if (root) ex::make_dirs(o.out);
  ex::name_parameters(model);  // divergence errors name parameters by module path
  Adam opt(model.parameters(), {.lr = o.schedule.base_lr, .beta1 = o.adam_beta1, .beta2 = o.adam_beta2,
                                .eps = o.adam_eps, .weight_decay = o.weight_decay});
  ex::LrSchedule schedule = o.schedule;
  schedule.total_steps = o.steps;
  const std::string ckpt = checkpoint_path(o.out);
  ex::MetricsCsv metrics(o.out + "/metrics.csv",
                         {"step", "epoch", "tokens_seen", "train_loss", "train_nll", "lr", "grad_norm",
                          "tokens_per_second", "valid_loss", "valid_ppl", "valid_bleu", "seconds"});
  ex::TrainingState st;
  if (file_exists(ckpt)) {
    FWP_CHECK(o.resume, "fwp-mt: '", ckpt, "' exists: pass --resume to continue that run, or choose "
              "another --out");
    st = ex::load_training_checkpoint(ckpt, model, opt, {}, o.fingerprint);
    if (root) metrics.resume(st.step);
    out << "resumed from " << ckpt << " at step " << st.step << " (epoch " << st.epoch
              << ", batch " << st.position << ")" << std::endl;
  }
  auto epoch_batches = [&](int64_t epoch) {
    return data::make_batches(data.train.examples, {.max_tokens = o.max_tokens, .shuffle = true,
                                                    .seed = o.seed * 1000003 + uint64_t(epoch)});
  };
  std::vector<data::MtBatch> batches = epoch_batches(st.epoch);
  const std::vector<data::MtBatch> valid_batches = data::make_batches(data.valid.examples, {.max_tokens = o.max_tokens});
  ex::Progress progress(st.step, o.steps);
  MtTrainResult res;
  bool evaluated = false;
  double loss_sum = 0.0, nll_sum = 0.0, grad_norm = 0.0, lr = 0.0;
  int64_t loss_tokens = 0;
  ex::check_same_on_all_ranks("the parameters at step " + std::to_string(st.step),
                              ex::hash_parameters(model.parameters()));
  auto save = [&] {
    if (root) ex::save_training_checkpoint(ckpt, model, opt, st, {}, o.fingerprint);
  };
  model.train();
  while (st.step < o.steps) {
    if (ex::stop_requested_anywhere()) {
      save();
      out << "stopped at step " << st.step << "; checkpoint written to " << ckpt << std::endl;
      res.stopped = true;
      break;
    }
    if (st.position >= static_cast<int64_t>(batches.size())) {
      ++st.epoch;
      st.position = 0;
      batches = epoch_batches(st.epoch);
    }
    ex::Stopwatch watch;
    data::MtBatch share;  // this process's rows under mpirun; one process uses the batch itself
    if (averager) share = batch_rows(batches[st.position], comm);
    const data::MtBatch& batch = averager ? share : batches[st.position];
    MtLoss l;
    if (batch.src.shape[0] > 0)
      l = label_smoothed_loss(forward_batch(model, batch), batch.tgt_out, o.label_smoothing,
                              data::SubwordTokenizer::kPad);
    if (averager) {
      // The loss is a mean over target tokens, and the shares hold different numbers of them:
      // weighting each process's loss by N t_r / t (t_r its tokens, t all of them) makes the mean
      // over the processes' gradients the gradient of the whole batch's mean.
      const double n = comm.size(), total = std::round(comm.mean(double(l.tokens)) * n);
      const double weight = total > 0 ? n * double(l.tokens) / total : 0.0;
      l.nll = comm.mean(l.nll * weight);
      l.tokens = static_cast<int64_t>(total);
      if (l.loss.defined()) l.loss = l.loss * weight;
    }
    ex::StepResult r = ex::train_step(opt, l.loss, schedule, o.clip, averager.get());
    const double seconds = watch.seconds();
    ++st.step;
    ++st.position;
    st.tokens_seen += l.tokens;
    st.seconds += seconds;
    progress.step_done(l.tokens, seconds);
    loss_sum += r.loss * double(l.tokens);
    nll_sum += l.nll * double(l.tokens);
    loss_tokens += l.tokens;
    grad_norm = r.grad_norm;
    lr = r.lr;
    const bool log = st.step % o.log_every == 0 || st.step == o.steps;
    const bool eval = st.step % o.eval_every == 0 || st.step == o.steps;
    const double train_loss = loss_sum / double(std::max<int64_t>(loss_tokens, 1));
    const double train_nll = nll_sum / double(std::max<int64_t>(loss_tokens, 1));
    if (!log && !eval) {  // no metrics row; a progress line only when one is due by time
      if (root && progress.due(st.step, o.log_every, o.log_seconds))
        std::cout << progress.line(st.step, train_loss, lr) << std::endl;
      continue;
    }
    if (!root) {  // rank 0 evaluates, logs and writes
      loss_sum = nll_sum = 0.0;
      loss_tokens = 0;
      continue;
    }
    std::string line = progress.line(st.step, train_loss, lr);
    double valid_loss = NAN, valid_bleu = NAN;
    if (eval) {
      valid_loss = res.valid_loss = evaluate_loss(model, valid_batches);
      evaluated = true;
      line += cat(" | valid loss ", ex::format_double(valid_loss, 4), " ppl ",
                  ex::format_double(std::exp(valid_loss), 4));
    }
    if (o.valid_bleu_every > 0 && st.step % o.valid_bleu_every == 0) {
      SplitResult v = translate_split(model, data, data.valid, SearchOptions{}, o.eval_max_tokens, "", false);
      valid_bleu = v.bleu.score;
      line += cat(" | valid BLEU (greedy) ", ex::format_double(valid_bleu, 4));
      model.train();
    }
    std::cout << line << " | gnorm " << ex::format_double(grad_norm, 3) << std::endl;
    metrics.add({double(st.step), double(st.epoch), double(st.tokens_seen), train_loss, train_nll, lr,
                 grad_norm, progress.tokens_per_second(), valid_loss,
                 std::isnan(valid_loss) ? NAN : std::exp(valid_loss), valid_bleu, st.seconds});
    loss_sum = nll_sum = 0.0;
    loss_tokens = 0;
    if (eval) save();
  }
  if (!evaluated && root) res.valid_loss = evaluate_loss(model, valid_batches);
  res.steps = st.step;
  res.tokens_seen = st.tokens_seen;
  res.epoch = st.epoch;
  res.seconds = st.seconds;
  return res;
}

SplitResult translate_split(Seq2Seq& model, const MtData& data, const MtSplit& split,
                            const SearchOptions& search, int64_t max_tokens,
                            const std::string& out_file, bool verbose) {
  const bool was_training = model.training();
  model.eval();
  ex::Stopwatch watch;
  int64_t next_report = 0;
  double last_report = 0.0;
  auto progress = [&](int64_t done, int64_t total) {  // every tenth, and at least every 20 s
    const double elapsed = watch.seconds();
    if (!verbose || done == 0 || (done < next_report && elapsed - last_report < 20.0)) return;
    next_report = done + total / 10;
    last_report = elapsed;
    std::cout << "  translated " << done << "/" << total << " sentences, "
              << ex::format_duration(elapsed) << " elapsed";
    if (done < total)
      std::cout << ", ETA " << ex::format_duration(elapsed / double(done) * double(total - done));
    std::cout << std::endl;
  };
  std::vector<Hypothesis> hyps = translate(model, split.examples, max_tokens, search, progress);
  BleuResult r = score_translations(hyps, data.tokenizer, split.references);
  if (!out_file.empty()) write_lines(out_file, r.hypotheses);
  model.train(was_training);
  return {r.bleu, watch.seconds(), static_cast<int64_t>(hyps.size())};
}

}  // namespace fwp::mt
