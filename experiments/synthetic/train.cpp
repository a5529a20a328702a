// The training loop of the synthetic experiments.
#include "experiments/synthetic/train.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <memory>
#include <ostream>

#include "autograd/tape.h"
#include "core/file_io.h"
#include "experiments/common/distributed.h"
#include "experiments/common/training.h"
#include "experiments/common/training_checkpoint.h"
#include "optim/optimizer.h"

namespace fwp::synthetic {

double evaluate_retrieval(RetrievalModel& model, const RetrievalTask& task, int64_t length,
                          int64_t batch_size, int64_t sequences, Rng& rng) {
  NoGradGuard no_grad;
  model.eval();
  double total = 0.0;
  int64_t count = 0;
  for (int64_t s = 0; s < sequences; ++s)
    for (const RetrievalBatch& batch : task.eval_batches(length, batch_size, rng)) {
      total += model.loss(model.forward(batch), batch.target).item();
      ++count;
    }
  model.train();
  return total / static_cast<double>(count);
}

TrainResult train_retrieval(const TrainConfig& c, std::ostream& log) {
  Rng init_rng(c.seed), data_rng(c.seed + 1), eval_rng(c.seed + 2);
  RetrievalTask task(c.setting, c.model.S);
  RetrievalModel model(c.model, init_rng, /*feature_seed=*/c.seed + 3);
  model.to(c.device);  // the same initial weights on every device
  experiments::name_parameters(model);
  Adam optimizer(model.parameters(), AdamOptions{.lr = c.lr});
  const int64_t eval_length = c.eval_at_train_length ? task.train_length() : task.num_keys();
  const std::string name = config_name(c.model);

  experiments::CsvTable curve({"step", "eval_loss"});
  TrainResult result;
  result.best_eval_loss = INFINITY;
  int64_t strikes = 0;
  double train_seconds = 0.0, last_train_loss = 0.0;
  experiments::Stopwatch wall;

  // Checkpoints: the loop's own state travels as the TrainingState's extra strings.
  const std::map<std::string, Rng*> rngs = {{"data", &data_rng}, {"eval", &eval_rng}};
  const std::string fingerprint = cat(c.setting, " ", name, " S=", c.model.S, " seed ", c.seed,
                                      " lr ", c.lr, " batch ", c.batch_size);
  // Under mpirun each process trains on its share of every batch (experiments/common/distributed.h);
  // all of them draw the same batches and run the same evaluations, so they take the same
  // decisions, and rank 0 alone logs and writes.
  experiments::Communicator& comm = experiments::world();
  const bool root = comm.is_root();
  const experiments::BatchShare share = experiments::batch_share(c.batch_size, "--batch-size");
  std::unique_ptr<experiments::GradientAverager> averager;
  if (comm.size() > 1)
    averager = std::make_unique<experiments::GradientAverager>(comm, model.parameters());
  std::ostream& out = root ? log : experiments::null_stream();

  int64_t first_step = 1;
  double earlier_seconds = 0.0;  // wall time of the interrupted part(s) of this run
  if (!c.checkpoint.empty() && file_exists(c.checkpoint)) {
    experiments::TrainingState st =
        experiments::load_training_checkpoint(c.checkpoint, model, optimizer, rngs, fingerprint);
    first_step = st.step + 1;
    earlier_seconds = st.seconds;
    // the loop's numbers, as save() below writes them; anything else is an fwp::Error
    auto number = [&](const std::string& key) {
      const auto it = st.extra.find(key);
      FWP_CHECK(it != st.extra.end(), c.checkpoint, ": the checkpoint has no '", key, "'");
      char* end = nullptr;
      const double v = std::strtod(it->second.c_str(), &end);
      FWP_CHECK(!it->second.empty() && *end == '\0', c.checkpoint, ": '", key, "' is '",
                it->second, "', not a number");
      return v;
    };
    strikes = static_cast<int64_t>(number("strikes"));
    result.best_eval_loss = number("best_eval_loss");
    result.final_eval_loss = number("final_eval_loss");
    train_seconds = number("train_seconds");
    if (!c.curve_csv.empty()) curve.load(c.curve_csv);
    out << "  resumed from " << c.checkpoint << " at step " << st.step << std::endl;
  }
  experiments::check_same_on_all_ranks("the parameters at step " + std::to_string(first_step - 1),
                                       experiments::hash_parameters(model.parameters()));
  auto save = [&](int64_t step) {
    if (!root) return;
    experiments::TrainingState st;
    st.step = step;
    st.seconds = earlier_seconds + wall.seconds();
    st.extra = {{"strikes", std::to_string(strikes)},
                {"best_eval_loss", experiments::format_double(result.best_eval_loss, 17)},
                {"final_eval_loss", experiments::format_double(result.final_eval_loss, 17)},
                {"train_seconds", experiments::format_double(train_seconds, 17)}};
    experiments::save_training_checkpoint(c.checkpoint, model, optimizer, st, rngs, fingerprint);
  };

  for (int64_t step = first_step; step <= c.max_steps; ++step) {
    if (!c.checkpoint.empty() && step > first_step &&
        (experiments::stop_requested_anywhere() ||
         (c.stop_after > 0 && step - first_step >= c.stop_after))) {
      save(step - 1);
      out << "  stopped at step " << step - 1 << "; checkpoint " << c.checkpoint << std::endl;
      result.interrupted = true;
      result.steps = step - 1;
      result.seconds = earlier_seconds + wall.seconds();
      return result;
    }
    experiments::Stopwatch step_timer;
    RetrievalBatch batch = task.train_batch(c.batch_size, data_rng);
    if (averager) {  // this process's rows
      batch = {experiments::share_rows(batch.keys, share), experiments::share_rows(batch.values, share),
               experiments::share_rows(batch.query, share), experiments::share_rows(batch.target, share)};
    }
    Variable loss = model.loss(model.forward(batch), batch.target);
    last_train_loss = averager ? averager->mean(loss.item()) : loss.item();
    result.steps = step;
    if (!std::isfinite(last_train_loss)) {  // an outcome, not an error: the paper's FAVOR+ delta
      result.final_eval_loss = NAN;         // runs went NaN too; a sweep records it and goes on
      result.stop_reason = "diverged at step " + std::to_string(step);
      out << "  " << name << " S=" << c.model.S << ": training loss became " << last_train_loss
          << " at step " << step << "; the run diverged, stopped" << std::endl;
      break;
    }
    optimizer.zero_grad();
    if (averager) {
      averager->backward(loss);
    } else {
      backward(loss);
    }
    optimizer.step();
    // a step that overflowed the parameters or Adam's moments is the divergence (no checkpoint
    // may hold it); the next loss would be NaN anyway
    if (const std::string bad = experiments::find_non_finite(optimizer); !bad.empty()) {
      result.final_eval_loss = NAN;
      result.stop_reason = "diverged at step " + std::to_string(step);
      log << "  " << name << " S=" << c.model.S << ": " << bad << " holds non-finite values "
          << "after step " << step << "; the run diverged, stopped" << std::endl;
      break;
    }
    train_seconds += step_timer.seconds();
    if (step % c.eval_every != 0 && step != c.max_steps) continue;  // evaluate at the end too

    double eval_loss = evaluate_retrieval(model, task, eval_length, c.batch_size,
                                          c.eval_sequences, eval_rng);
    result.final_eval_loss = eval_loss;
    if (eval_loss < result.best_eval_loss) {
      result.best_eval_loss = eval_loss;
      strikes = 0;
    } else {
      ++strikes;
    }
    curve.add_row({std::to_string(step), experiments::format_double(eval_loss)});
    if (root && !c.curve_csv.empty()) curve.save(c.curve_csv);
    const double rate = step / train_seconds;
    out << "  " << name << " S=" << c.model.S << " step " << std::setw(6) << step
        << " | train " << std::fixed << std::setprecision(4) << last_train_loss << " | eval "
        << eval_loss << " (best " << result.best_eval_loss << ", strikes " << strikes << ")"
        << std::setprecision(1) << " | " << rate << " steps/s | elapsed "
        << experiments::format_duration(wall.seconds()) << " | at most "
        << experiments::format_duration((c.max_steps - step) / rate) << " left" << std::defaultfloat
        << std::endl;
    if (eval_loss <= c.stop_loss) {
      result.stop_reason = "solved";
      break;
    }
    if (strikes > c.patience) {
      result.stop_reason = "no improvement";
      break;
    }
    if (!c.checkpoint.empty()) save(step);
  }
  if (result.stop_reason.empty()) result.stop_reason = "max steps";
  result.seconds = earlier_seconds + wall.seconds();
  if (root && !c.checkpoint.empty()) std::remove(c.checkpoint.c_str());  // the run is complete
  result.train_steps_per_second = train_seconds > 0 ? result.steps / train_seconds : 0.0;
  return result;
}

}  // namespace fwp::synthetic
