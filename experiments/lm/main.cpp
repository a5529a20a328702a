// fwp-lm: word-level language modelling with fast weight programmers (paper Sec. 6.3).
//   fwp-lm --data data/bible-lm --attention delta --layers 4 --steps 5000 --out runs/lm/delta
//   (the same command) --resume                          (continue an interrupted run)
//   fwp-lm --out runs/lm/delta --eval-only --eval-stride 1 --eval-slice 2000
//   fwp-lm --out runs/lm/delta --generate "In the beginning" --tokens 40
//   fwp-lm --out runs/lm/delta --score data/bible-lm/test.tokens   (per-token log-probabilities)
//   fwp-lm --attention softmax --bench 10                (median training step time)
// A run's folder holds command.txt, config.json, model.json, vocab.txt, checkpoint.safetensors,
// metrics.csv and, at the end, results.json (valid/test perplexity by every protocol).
// --eval-only and --generate need only --out: they read the model, vocabulary and data from it.
#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>
#include <sstream>

#include "core/allocator.h"
#include "core/error.h"
#include "core/file_io.h"
#include "experiments/common/cli_checks.h"
#include "experiments/common/distributed.h"
#include "experiments/common/process.h"
#include "experiments/common/run_utils.h"
#include "experiments/common/training.h"
#include "experiments/common/training_checkpoint.h"
#include "experiments/data/lm_data.h"
#include "experiments/lm/lm_config.h"
#include "experiments/lm/lm_train.h"
#include "layers/config_json.h"
#include "optim/checkpoint.h"

using namespace fwp;
using namespace fwp::lm;
using nlohmann::json;

namespace {

struct Config {
  std::string data = "data/bible-lm";
  int64_t min_count = 3, max_vocab = 0;  // vocabulary cut-off: rarer words become <unk>
  ModelFlags model;
  LmTrainOptions train;
  int64_t train_tokens = 0;              // alternative to --steps: a token budget
  FinalEvalOptions eval;
  bool eval_only = false;
  std::string generate;                  // prompt
  std::string score, score_out;          // token file to score; where its log-probs go
  int64_t gen_tokens = 50;
  double temperature = 1.0;
  int64_t bench = 0, bench_warmup = 2;
  uint64_t seed = 1;
  int threads = 0;
  std::string device = "cpu";
  Device on = Device::cpu;               // --device, once run() has checked it
  int64_t cache_mb = 4096;               // CPU allocator cache (core/allocator.h)
};

json config_json(const Config& c, const LMConfig& model) {
  return {{"data", c.data}, {"min_count", c.min_count}, {"max_vocab", c.max_vocab},
          {"model", model}, {"train", to_json(c.train)},
          {"eval", {{"context", c.eval.context}, {"batch", c.eval.batch}, {"stride", c.eval.stride},
                    {"slice", c.eval.slice}, {"window_batch", c.eval.window_batch}}},
          {"seed", c.seed}, {"threads", c.threads}, {"device", c.device}};
}

// What must not change between a run and its resumption.
std::string fingerprint(const Config& c, const LMConfig& model) {
  const LmTrainOptions& t = c.train;
  return json{{"data", c.data}, {"min_count", c.min_count}, {"max_vocab", c.max_vocab},
              {"model", model}, {"seed", c.seed}, {"batch", t.batch}, {"context", t.context},
              {"steps", t.steps}, {"lr", t.lr}, {"warmup", t.warmup}, {"clip", t.clip},
              {"schedule", t.schedule}, {"carry_over", t.carry_over}}.dump();
}

std::string decode(const std::vector<int64_t>& ids, const data::Vocabulary& vocab) {
  std::string s;
  for (int64_t id : ids) {
    if (id == data::Vocabulary::kEosId) s += "\n";
    else s += (s.empty() || s.back() == '\n' ? "" : " ") + vocab.word(id);
  }
  return s;
}

// --generate and --eval-only use a finished (or running) run's folder: model.json, vocab.txt,
// and the parameters of checkpoint.safetensors.
// The checkpoint is verified as when resuming (checksum, finite values).
std::unique_ptr<TransformerLM> load_run_model(const Config& c, data::Vocabulary& vocab) {
  const std::string dir = c.train.out;
  vocab = data::Vocabulary::load(dir + "/vocab.txt");
  LMConfig m;
  try {
    m = config_from_json_string<LMConfig>(read_file(dir + "/model.json"));
  } catch (const Error& e) {
    throw Error(cat("'", dir, "/model.json': ", e.what()));
  }
  FWP_CHECK(m.vocab_size == vocab.size(), "'", dir, "/model.json' has vocab_size ", m.vocab_size,
            " but '", dir, "/vocab.txt' has ", vocab.size(), " words");
  auto model = std::make_unique<TransformerLM>(m, c.seed);
  experiments::load_verified_checkpoint(dir + "/checkpoint.safetensors", *model);
  model->to(c.on);  // loaded on the host, run on --device
  return model;
}

// A setting of the run in --out (its config.json), checked like the option it came from.
int64_t run_setting(const std::string& dir, const char* section, const char* key) {
  const std::string path = dir + "/config.json";
  const json config = experiments::read_json_file(path);
  try {
    const json& v = config.at(section).at(key);
    FWP_CHECK(v.is_number_integer() && v.get<int64_t>() >= 1 &&
                  v.get<int64_t>() <= experiments::kMaxLength,
              "'", path, "': ", section, ".", key, " is ", v.dump(), ", not an integer in [1, ",
              experiments::kMaxLength, "]");
    return v.get<int64_t>();
  } catch (const json::exception& e) {
    throw Error(cat("'", path, "': ", e.what()));
  }
}

// --score FILE: log p(token | preceding tokens) in nats for every token of a token file (the
// corpus format, e.g. test.tokens; each line ends with <eos>), one TSV row per token, as other
// tools print them. The first token is predicted from an <eos>, as if a line had just ended;
// later ones from sliding windows of --eval-context tokens moved by --eval-stride (default:
// half the context), so past the first window each has at least half a context before it.
int score_file(Config& c, const CLI::App& app) {
  data::Vocabulary vocab;
  auto model = load_run_model(c, vocab);
  if (!app.count("--eval-context")) c.eval.context = run_setting(c.train.out, "train", "context");
  const int64_t stride = c.eval.stride > 0 ? c.eval.stride : std::max<int64_t>(1, c.eval.context / 2);
  std::vector<int64_t> tokens = {data::Vocabulary::kEosId};
  for (int64_t id : data::encode_file(c.score, vocab)) tokens.push_back(id);
  const std::vector<double> logp = token_log_probs(*model, tokens, c.eval.context, stride);
  std::string tsv = "index\ttoken\tid\tlogprob\n";
  double nll = 0.0;
  for (size_t j = 0; j < logp.size(); ++j) {
    tsv += cat(j, "\t", vocab.word(tokens[j + 1]), "\t", tokens[j + 1], "\t",
               experiments::format_double(logp[j], 9), "\n");
    nll -= logp[j];
  }
  const std::string out = c.score_out.empty() ? c.train.out + "/scores.tsv" : c.score_out;
  write_file_atomic(out, tsv);
  const double mean = logp.empty() ? 0.0 : nll / double(logp.size());
  std::cout << "scored " << logp.size() << " tokens of " << c.score << " (context " << c.eval.context
            << ", stride " << stride << "): mean NLL " << experiments::format_double(mean, 6)
            << " nats, ppl " << experiments::format_double(std::exp(mean), 6) << "; written " << out
            << std::endl;
  return 0;
}

int run(Config& c, const CLI::App& app, const std::string& command) {
  c.on = experiments::check_device(c.device);
  // Started by mpirun: one of several processes training one model (README, "Several processes
  // or machines"). Rank 0 prints and writes; the others only train.
  experiments::Communicator& comm = experiments::join_processes(c.threads);
  FWP_CHECK(comm.size() == 1 || (c.generate.empty() && c.score.empty() && !c.eval_only),
            "--generate, --score and --eval-only run as one process, not under mpirun");
  const int threads = experiments::set_threads(c.threads);
  cpu_allocator_set_cache_limit(size_t(c.cache_mb) << 20);
  if (!c.generate.empty()) {
    data::Vocabulary vocab;
    auto model = load_run_model(c, vocab);
    Rng rng(c.seed);
    std::vector<int64_t> prompt = data::encode_text(c.generate, vocab);  // tokenised as the corpus
    FWP_CHECK(!prompt.empty(), "--generate: the prompt has no words");
    std::cout << decode(model->generate(prompt, c.gen_tokens, rng, c.temperature), vocab) << std::endl;
    return 0;
  }

  if (!c.score.empty()) return score_file(c, app);

  if (c.eval_only) {
    data::Vocabulary vocab;
    auto model = load_run_model(c, vocab);
    const json run_config = experiments::read_json_file(c.train.out + "/config.json");
    if (!app.count("--eval-context")) c.eval.context = run_setting(c.train.out, "train", "context");
    try {
      if (!app.count("--data")) c.data = run_config.at("data").get<std::string>();
      c.eval.trained_with_carry = run_config.at("train").at("carry_over").get<bool>();
    } catch (const json::exception& e) {
      throw Error(cat("'", c.train.out, "/config.json': ", e.what()));
    }
    std::cout << "fwp-lm: evaluating " << c.train.out << "/checkpoint.safetensors ("
              << model->config().attention.describe() << ") on " << c.data << ", context "
              << c.eval.context << ", threads " << threads << std::endl;
    json results;
    for (const char* split : {"valid", "test"}) {
      std::cout << split << ":" << std::endl;
      const std::vector<int64_t> tokens = data::encode_file(data::split_file(c.data, split), vocab);
      results[split] = evaluate_split(*model, tokens, c.eval, std::cout);
    }
    experiments::write_json(c.train.out + "/eval.json", results);
    std::cout << "written " << c.train.out << "/eval.json" << std::endl;
    return 0;
  }

  build_model_config(c.model, 1);  // bad model flags and schedules fail before the data is read
  const int64_t tokens_per_step = c.train.batch * c.train.context;
  if (c.train_tokens > 0) c.train.steps = (c.train_tokens + tokens_per_step - 1) / tokens_per_step;
  c.train.warmup = experiments::resolve_warmup(c.train.warmup, c.train.steps);
  data::LmCorpus corpus = data::load_lm_corpus(c.data, {c.min_count, c.max_vocab});
  const LMConfig model_config = build_model_config(c.model, corpus.vocab.size());
  if (!app.count("--eval-context")) c.eval.context = c.train.context;
  c.eval.trained_with_carry = c.train.carry_over;
  TransformerLM model(model_config, c.seed);
  model.to(c.on);  // initialised on the host (the same weights on every device), trained on c.on
  std::cout << "fwp-lm configuration\n" << config_json(c, model_config).dump(2) << "\n"
            << "  data        " << corpus.train.size() << " / " << corpus.valid.size() << " / "
            << corpus.test.size() << " train / valid / test tokens, vocabulary " << corpus.vocab.size()
            << " (min count " << c.min_count << ")\n"
            << "  model       " << model_config.n_layers << " layers, D " << model_config.d_model
            << ", FF " << model_config.d_ff << ", " << model_config.attention.describe() << ", "
            << model.num_parameters() << " parameters\n"
            << "  training    " << c.train.steps << " steps x " << tokens_per_step << " tokens = "
            << c.train.steps * tokens_per_step << " tokens"
            << (c.train.carry_over ? ", carry-over" : "") << "\n"
            << "  threads     " << threads
            << (comm.size() > 1 ? cat(" per process, ", comm.size(), " processes") : std::string())
            << std::endl;
  const std::string fp = fingerprint(c, model_config);
  experiments::check_same_on_all_ranks("the configuration", experiments::hash_bytes(fp.data(), fp.size()));

  if (c.bench > 0) {
    LmBenchResult b = bench_lm_training(model, corpus.train, c.train, c.bench_warmup, c.bench);
    std::cout << "bench: " << c.bench << " training steps of " << c.train.batch << " x "
              << c.train.context << " tokens: median " << b.median_seconds * 1e3 << " ms (cpu "
              << b.median_cpu_seconds * 1e3 << " ms, min " << b.min_seconds * 1e3 << " ms), "
              << b.tokens_per_second << " tokens/s" << std::endl;
    return 0;
  }

  // Whatever can refuse the run does so before its folder is touched (a refused run leaves it
  // as it was): the data must fill the streams, carry-over needs fast weights, an existing run is
  // only continued with --resume, and only when its checkpoint is sound and fits this run.
  data::LmBatches(corpus.train, c.train.batch, c.train.context);
  experiments::batch_share(c.train.batch, "--batch");  // several processes: equal shares
  FWP_CHECK(comm.size() == 1 || !c.train.carry_over, "--carry-over runs as one process, not "
            "under mpirun (the carried state of each process's rows is not checkpointed yet)");
  FWP_CHECK(!c.train.carry_over || model_config.attention.kind == AttentionKind::fast_weight,
            "--carry-over needs fast-weight attention (softmax attention has no fixed-size state)");
  const std::string checkpoint = c.train.out + "/checkpoint.safetensors";
  FWP_CHECK(c.train.resume || !file_exists(checkpoint), "'", checkpoint,
            "' exists: pass --resume to continue that run, or choose another --out");
  if (c.train.resume && file_exists(checkpoint)) {  // it must fit this run (model, data, settings)
    Adam scratch(model.parameters(), AdamOptions{.lr = c.train.lr});
    experiments::load_training_checkpoint(checkpoint, model, scratch, {}, fingerprint(c, model_config));
  }
  if (comm.is_root()) {  // under mpirun, process 0 alone writes
    experiments::open_run_folder(c.train.out);
    remove_stale_temp_files(c.train.out);
    write_file_atomic(c.train.out + "/command.txt", command + "\n");
    experiments::write_json(c.train.out + "/config.json", config_json(c, model_config));
    write_file_atomic(c.train.out + "/model.json", config_to_json_string(model_config) + "\n");
    corpus.vocab.save(c.train.out + "/vocab.txt");
  }
  experiments::install_stop_handler();
  LmTrainResult r = train_lm(model, corpus.train, corpus.valid, c.train,
                             fingerprint(c, model_config), std::cout);
  if (r.interrupted) return 130;
  experiments::install_stop_handler(false);  // the final checkpoint is written: Ctrl-C may end it
  if (!comm.is_root()) return 0;  // rank 0 evaluates

  std::cout << "final evaluation (context " << c.eval.context << ")" << std::endl;
  json results = {{"config", config_json(c, model_config)}, {"parameters", model.num_parameters()},
                  {"steps", r.steps}, {"tokens_seen", r.tokens_seen}, {"train_seconds", r.seconds},
                  {"train_loss", r.train_loss}};
  for (auto [name, tokens] : {std::pair{"valid", &corpus.valid}, std::pair{"test", &corpus.test}}) {
    std::cout << name << ":" << std::endl;
    results[name] = evaluate_split(model, *tokens, c.eval, std::cout);
  }
  experiments::write_json(c.train.out + "/results.json", results);
  std::cout << "valid ppl " << results["valid"]["segments"]["ppl"].get<double>() << ", test ppl "
            << results["test"]["segments"]["ppl"].get<double>() << " (segments); written "
            << c.train.out << "/results.json" << std::endl;
  return 0;
}

// A model flag, bound to its optional in ModelFlags: set only when given, so that it overrides
// the preset and --model-config, and unset otherwise. --help shows the default model's value.
template <typename T>
CLI::Option* model_option(CLI::App& app, const std::string& name, std::optional<T>& flag,
                          T shown, const std::string& help) {
  std::ostringstream text;
  text << shown;
  return app.add_option(name, flag, help)->default_str(text.str());
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  c.train.out = "runs/lm";
  CLI::App app{"fwp-lm: word-level language model with fast weight programmers (paper Sec. 6.3)"};
  app.option_defaults()->always_capture_default();
  fwp::experiments::one_line_errors(app, "fwp-lm");
  ModelFlags& m = c.model;
  const LMConfig d = default_model_config();  // what --help shows; only flags given override
  std::string sum_norm = "preset", attn_norm = "preset";
  app.add_option("--data", c.data, "WikiText-format folder: {train,valid,test}.tokens or wiki.*.tokens");
  app.add_option("--min-count", c.min_count, "vocabulary: words seen fewer times in train become <unk>")->check(experiments::count_in(0, experiments::kMaxTokens));
  app.add_option("--max-vocab", c.max_vocab, "vocabulary: at most this many ids (0: no limit)")->check(experiments::count_in(0, experiments::kMaxTokens));
  app.add_option("--model-config", m.config_file, "JSON model config (layers/config_json.h); flags override it");
  app.add_option("--attention", m.attention, "preset: softmax, linear, performer, dpfp, delta, dpfp_delta, favor_delta, fwm, ... (default delta)");
  app.add_option("--rule", m.rule, "update rule override: " + update_rule_names() + " (layers/fast_weight_rules.h)");
  app.add_option("--phi", m.phi, "feature map override: linear, favor, dpfp, tanh, identity");
  model_option(app, "--nu", m.nu, d.attention.phi.nu, "DPFP nu")->check(experiments::count_in(1, 64));
  model_option(app, "--m", m.m, d.attention.phi.m, "FAVOR+ random features (Ddot = 2m)")->check(experiments::count_in(1, experiments::kMaxSize));
  app.add_option("--favor-redraw", m.favor_redraw, "every_forward, training_only or fixed");
  app.add_option("--sum-normalize", sum_norm, "on/off: k, q <- phi / sum(phi) (default: as the preset)")->check(CLI::IsMember({"on", "off", "preset"}));
  app.add_option("--attention-normalize", attn_norm, "on/off: divide by z . q (default: as the preset)")->check(CLI::IsMember({"on", "off", "preset"}));
  model_option(app, "--layers", m.layers, d.n_layers, "number of blocks")->check(experiments::count_in(1, 1024));
  model_option(app, "--d-model", m.d_model, d.d_model, "model width D")->check(experiments::count_in(1, experiments::kMaxSize));
  model_option(app, "--heads", m.heads, d.attention.n_heads, "heads")->check(experiments::count_in(1, 1024));
  model_option(app, "--d-head", m.d_head, d.attention.d_head, "width per head")->check(experiments::count_in(1, experiments::kMaxSize));
  model_option(app, "--d-ff", m.d_ff, d.d_ff, "feed-forward width")->check(experiments::count_in(1, experiments::kMaxSize));
  model_option(app, "--dropout", m.dropout, d.dropout, "dropout")->check(experiments::real_in(0, 0.999));
  app.add_option("--batch", c.train.batch, "parallel streams B")->check(experiments::count_in(1, experiments::kMaxSize));
  app.add_option("--context", c.train.context, "tokens per training segment T")->check(experiments::count_in(1, experiments::kMaxLength));
  app.add_option("--steps", c.train.steps, "optimizer steps")->check(experiments::count_in(1, experiments::kMaxSteps));
  app.add_option("--train-tokens", c.train_tokens, "token budget instead of --steps (steps = tokens / (B T))")->check(experiments::count_in(0, experiments::kMaxTokens));
  app.add_option("--lr", c.train.lr, "Adam learning rate")->check(experiments::kPositive);
  c.train.warmup = -1;  // not given: a tenth of --steps (experiments::resolve_warmup)
  app.add_option("--warmup", c.train.warmup, "linear warm-up steps")->check(experiments::count_in(0, experiments::kMaxSteps))->default_str("--steps / 10");
  app.add_option("--schedule", c.train.schedule, "cosine, constant or inverse_sqrt")->check(CLI::IsMember({"cosine", "constant", "inverse_sqrt"}));
  app.add_option("--clip", c.train.clip, "global gradient-norm clip (<= 0: none)")->check(experiments::kFinite);
  app.add_flag("--carry-over", c.train.carry_over, "pass the fast weights (detached) from segment to segment");
  app.add_option("--log-every", c.train.log_every, "steps between metrics rows (and progress lines)")->check(experiments::count_in(1, experiments::kMaxSteps));
  app.add_option("--log-seconds", c.train.log_seconds, "a progress line after the first step and at least this often")->check(experiments::kNonNegative);
  app.add_option("--eval-every", c.train.eval_every, "steps between validation evaluations")->check(experiments::count_in(1, experiments::kMaxSteps));
  app.add_option("--checkpoint-every", c.train.checkpoint_every, "steps between checkpoints")->check(experiments::count_in(1, experiments::kMaxSteps));
  app.add_option("--valid-tokens", c.train.valid_tokens, "valid tokens evaluated during training (0: all)")->check(experiments::count_in(0, experiments::kMaxTokens));
  app.add_option("--eval-batch", c.eval.batch, "streams in the segment evaluation")->check(experiments::count_in(1, experiments::kMaxSize));
  app.add_option("--eval-context", c.eval.context, "context of the final evaluation (default: --context)")->check(experiments::count_in(1, experiments::kMaxLength));
  app.add_option("--eval-stride", c.eval.stride, "final sliding-window evaluation with this stride (0: none; --score: context / 2)")->check(experiments::count_in(0, experiments::kMaxLength));
  app.add_option("--eval-slice", c.eval.slice, "also stride 1 over the first N tokens of valid and test")->check(experiments::count_in(0, experiments::kMaxTokens));
  app.add_option("--window-batch", c.eval.window_batch, "windows per forward pass in sliding evaluation")->check(experiments::count_in(1, experiments::kMaxSize));
  app.add_flag("--eval-only", c.eval_only, "evaluate the checkpoint in --out (no training)");
  app.add_option("--generate", c.generate, "prompt (plain text, tokenised like the corpus): continue it with the model in --out");
  app.add_option("--tokens", c.gen_tokens, "words to generate")->check(experiments::count_in(0, experiments::kMaxLength));
  app.add_option("--score", c.score, "token file (corpus format): write the log-probability of each token under the model in --out");
  app.add_option("--score-out", c.score_out, "where --score writes its TSV (default: OUT/scores.tsv)");
  app.add_option("--temperature", c.temperature, "sampling temperature (0: greedy)")->check(experiments::kNonNegative);
  app.add_option("--bench", c.bench, "time this many training steps and exit")->check(experiments::count_in(0, experiments::kMaxSteps));
  app.add_option("--bench-warmup", c.bench_warmup, "untimed steps before --bench")->check(experiments::count_in(0, experiments::kMaxSteps));
  app.add_option("--seed", c.seed, "seed of initialisation, dropout and sampling")->check(experiments::count_in(0, experiments::kMaxSeed));
  app.add_option("--threads", c.threads, "OpenMP threads (default: all cores)")->check(experiments::count_in(0, 1024));
  app.add_option("--device", c.device, "cpu or cuda (a build with FWP_CUDA and a device)");
  app.add_option("--cache-mb", c.cache_mb, "freed tensor memory kept for reuse, MiB (a training step reallocates its activations)")->check(experiments::count_in(0, 1 << 24));
  app.add_option("--out", c.train.out, "run folder");
  app.add_flag("--resume", c.train.resume, "continue from the checkpoint in --out");
  app.add_option("--stop-after", c.train.stop_after, "stop with a checkpoint after this many steps (0: run to --steps)")->check(experiments::count_in(0, experiments::kMaxSteps));
  return experiments::guarded_main("fwp-lm", [&] {
  FWP_CLI_PARSE(app, argc, argv);
  if (sum_norm != "preset") m.sum_normalize = sum_norm == "on";
  if (attn_norm != "preset") m.attention_normalize = attn_norm == "on";
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  return experiments::run_processes("fwp-lm", [&] { return run(c, app, command); });
  });
}
