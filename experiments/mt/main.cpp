// fwp-mt: Spanish -> English translation with an encoder-decoder Transformer whose encoder
// self-attention, decoder self-attention and cross-attention each take any attention preset
// (paper Sec. 6.2; docs/THEORY.md section 9.3). Trains, checkpoints (--resume continues
// bit-exactly), then translates the evaluation splits with greedy or beam search and scores them
// with corpus BLEU.
//   fwp-mt --out runs/mt/dpfp --enc-attention dpfp --dec-attention dpfp --cross-attention dpfp
// Writes OUT/config.json, OUT/metrics.csv, OUT/checkpoint.safetensors, OUT/<split>.hyp and
// OUT/results.json.
#include <CLI/CLI.hpp>
#include <iostream>

#include "core/error.h"
#include "core/file_io.h"
#include "experiments/common/cli_checks.h"
#include "experiments/common/distributed.h"
#include "experiments/common/process.h"
#include "experiments/common/run_utils.h"
#include "experiments/common/training.h"
#include "experiments/common/training_checkpoint.h"
#include "experiments/mt/train.h"
#include "layers/config_json.h"

using namespace fwp;
using namespace fwp::mt;
namespace ex = fwp::experiments;

namespace {

struct Config {
  std::string data = "data/bible-mt", out = "runs/mt", src_lang = "es", tgt_lang = "en";
  // model
  std::string enc_attention = "softmax", dec_attention = "softmax", cross_attention = "softmax";
  int64_t d_model = 256, enc_layers = 2, dec_layers = 2, heads = 4, d_head = 64, d_ff = 1024;
  double dropout = 0.1;
  int64_t favor_m = 64, dpfp_nu = 1;  // FAVOR+ random features (Ddot = 2m); DPFP nu (Ddot = 2 d_head nu)
  // training
  int64_t steps = 4000, warmup = -1,  // warmup -1: --steps / 10 (ex::resolve_warmup)
          max_tokens = 4096, log_every = 50, eval_every = 500;
  int64_t valid_bleu_every = 0;
  double log_seconds = 20.0;
  std::string schedule = "inverse_sqrt";
  double lr = 7e-4, clip = 1.0, label_smoothing = 0.1, weight_decay = 0.0;
  // decoding and evaluation
  int64_t beam = 4, max_len_b = 10, eval_max_tokens = 8192;
  double lenpen = 1.0, max_len_a = 1.5;
  std::string eval_splits = "valid,test";
  bool resume = false, eval_only = false;
  uint64_t seed = 1;
  std::string device = "cpu";
  int threads = 0;
};

AttentionConfig attention(const Config& c, const std::string& preset) {
  AttentionConfig a = AttentionConfig::preset(preset, c.heads, c.d_head);
  a.phi.m = c.favor_m;
  a.phi.nu = c.dpfp_nu;
  return a;
}

// Encoder self-attention and cross-attention read a whole sequence at once: softmax or sum rule.
void check_non_causal(const Config& c, const std::string& flag, const std::string& preset) {
  AttentionConfig a = attention(c, preset);
  auto whole_sequence = [](const AttentionConfig& x) {  // the rule has a non-causal form
    return x.kind == AttentionKind::softmax || fast_weight_rule(x.rule).non_causal;
  };
  if (whole_sequence(a)) return;
  std::string ok;
  for (const std::string& n : AttentionConfig::preset_names())
    if (whole_sequence(attention(c, n))) ok += (ok.empty() ? "" : ", ") + n;
  throw Error(cat(flag, " ", preset, ": this attention sees the whole sequence at once, which needs "
                  "softmax or the sum rule (", ok, "); the ", to_string(a.rule),
                  " rule is for the decoder's self-attention (--dec-attention)"));
}

Seq2SeqConfig model_config(const Config& c, int64_t vocab) {
  Seq2SeqConfig m;
  m.src_vocab = m.tgt_vocab = vocab;
  m.d_model = c.d_model;
  m.n_encoder_layers = c.enc_layers;
  m.n_decoder_layers = c.dec_layers;
  m.d_ff = c.d_ff;
  m.dropout = c.dropout;
  m.encoder_attention = attention(c, c.enc_attention);
  m.decoder_attention = attention(c, c.dec_attention);
  m.cross_attention = attention(c, c.cross_attention);
  return m;
}

// What a resumed run must share with the run that wrote the checkpoint.
nlohmann::json fingerprint(const Config& c, const Seq2SeqConfig& m) {
  return {{"model", m}, {"data", c.data}, {"src_lang", c.src_lang}, {"tgt_lang", c.tgt_lang},
          {"steps", c.steps}, {"warmup", c.warmup}, {"max_tokens", c.max_tokens}, {"schedule", c.schedule},
          {"lr", c.lr}, {"clip", c.clip}, {"label_smoothing", c.label_smoothing},
          {"weight_decay", c.weight_decay}, {"seed", c.seed}};
}

void print_config(const Config& c, const Seq2SeqConfig& m, int64_t params, const MtData& d) {
  std::cout << "fwp-mt configuration\n"
            << "  data          " << c.data << " (" << c.src_lang << " -> " << c.tgt_lang << "): train "
            << d.train.examples.size() << ", valid " << d.valid.examples.size() << ", test "
            << d.test.examples.size() << " pairs, vocabulary " << m.tgt_vocab << "\n"
            << "  out           " << c.out << (c.resume ? " (resume)" : "") << (c.eval_only ? " (eval only)" : "") << "\n"
            << "  model         " << c.enc_layers << "+" << c.dec_layers << " layers, D " << c.d_model
            << ", FF " << c.d_ff << ", dropout " << c.dropout << ", " << params << " parameters\n"
            << "  encoder       " << m.encoder_attention.describe() << "\n"
            << "  decoder       " << m.decoder_attention.describe() << "\n"
            << "  cross         " << m.cross_attention.describe() << "\n"
            << "  training      " << c.steps << " steps of <= " << c.max_tokens << " tokens, Adam lr " << c.lr
            << " (" << c.schedule << ", warm-up " << c.warmup << "), clip " << c.clip
            << ", label smoothing " << c.label_smoothing << ", weight decay " << c.weight_decay << "\n"
            << "  evaluation    valid loss every " << c.eval_every << " steps"
            << (c.valid_bleu_every > 0 ? cat(", greedy valid BLEU every ", c.valid_bleu_every) : "")
            << "; at the end BLEU on " << c.eval_splits << " with " << (c.beam == 1 ? "greedy search" : cat("beam ", c.beam))
            << ", length penalty " << c.lenpen << ", max length " << c.max_len_a << " n + " << c.max_len_b << "\n"
            << "  seed          " << c.seed << ", device " << c.device << ", threads " << ex::set_threads(0) << std::endl;
}

int run(Config& c) {
  const Device device = ex::check_device(c.device);
  // Started by mpirun: one of several processes training one model (README, "Several processes
  // or machines"). Rank 0 prints, evaluates and writes.
  ex::Communicator& comm = ex::join_processes(c.threads);
  FWP_CHECK(comm.size() == 1 || !c.eval_only, "--eval-only runs as one process, not under mpirun");
  c.warmup = ex::resolve_warmup(c.warmup, c.steps);
  check_non_causal(c, "--enc-attention", c.enc_attention);  // before minutes of loading data
  check_non_causal(c, "--cross-attention", c.cross_attention);
  ex::set_threads(c.threads);
  MtData data = load_mt_data(c.data, c.src_lang, c.tgt_lang);
  std::vector<std::string> eval_splits;  // checked now, not after hours of training
  std::stringstream list(c.eval_splits);
  for (std::string name; std::getline(list, name, ',');)
    if (!name.empty()) {
      data.split(name);  // throws on an unknown name
      eval_splits.push_back(name);
    }
  const Seq2SeqConfig mc = model_config(c, data.tokenizer.size());
  Seq2Seq model(mc, c.seed);
  model.to(device);  // initialised on the host (the same weights on every device), run on --device
  print_config(c, mc, model.num_parameters(), data);
  const std::string print = fingerprint(c, mc).dump();
  // A refused run leaves its folder as it was: an existing run is only continued with --resume,
  // and only when its checkpoint is sound and fits this run; all of it is checked before writing.
  const std::string checkpoint = checkpoint_path(c.out);
  FWP_CHECK(c.resume || c.eval_only || !file_exists(checkpoint), "'", checkpoint,
            "' exists: pass --resume to continue that run, or choose another --out");
  ex::check_same_on_all_ranks("the configuration", ex::hash_bytes(print.data(), print.size()));
  FWP_CHECK(!c.eval_only || file_exists(checkpoint), "--eval-only: there is no '", checkpoint, "'");
  ex::TrainingState loaded;
  if (file_exists(checkpoint)) {
    Adam scratch(model.parameters());
    loaded = ex::load_training_checkpoint(checkpoint, model, scratch, {}, print);
  }
  if (comm.is_root()) {  // under mpirun, process 0 alone writes
    ex::open_run_folder(c.out);
    remove_stale_temp_files(c.out);
  }
  nlohmann::json results = {{"config", nlohmann::json::parse(print)}, {"parameters", model.num_parameters()}};
  results["config"]["beam"] = c.beam;
  results["config"]["lenpen"] = c.lenpen;
  if (c.eval_only) {
    std::cout << "evaluating the checkpoint of step " << loaded.step << std::endl;
    results["train"] = {{"steps", loaded.step}, {"tokens_seen", loaded.tokens_seen}, {"seconds", loaded.seconds}};
  } else {
    if (comm.is_root()) ex::write_json(c.out + "/config.json", results["config"]);
    MtTrainOptions o;
    o.out = c.out;
    o.steps = c.steps;
    o.max_tokens = c.max_tokens;
    o.schedule = {ex::lr_schedule_kind_from_string(c.schedule), c.lr, c.warmup, c.steps};
    o.clip = c.clip;
    o.label_smoothing = c.label_smoothing;
    o.weight_decay = c.weight_decay;
    o.log_every = c.log_every;
    o.log_seconds = c.log_seconds;
    o.eval_every = c.eval_every;
    o.valid_bleu_every = c.valid_bleu_every;
    o.eval_max_tokens = c.eval_max_tokens;
    o.resume = c.resume;
    o.seed = c.seed;
    o.fingerprint = print;
    ex::install_stop_handler();
    MtTrainResult r = train(model, data, o);
    if (r.stopped) return 130;
    if (!comm.is_root()) return 0;  // rank 0 translates and scores
    results["train"] = {{"steps", r.steps}, {"tokens_seen", r.tokens_seen}, {"epochs", r.epoch},
                        {"seconds", r.seconds}, {"valid_loss", r.valid_loss}, {"valid_ppl", std::exp(r.valid_loss)}};
  }
  SearchOptions search{.beam = c.beam, .length_penalty = c.lenpen, .max_len_a = c.max_len_a, .max_len_b = c.max_len_b};
  for (const std::string& name : eval_splits) {
    const MtSplit& split = data.split(name);
    std::cout << "translating " << name << " (" << split.examples.size() << " sentences)" << std::endl;
    SplitResult s = translate_split(model, data, split, search, c.eval_max_tokens, c.out + "/" + name + ".hyp", true);
    std::cout << name << ": " << s.bleu.str() << "  [" << ex::format_duration(s.seconds) << "]" << std::endl;
    results["eval"][name] = {{"bleu", s.bleu.score}, {"line", s.bleu.str()}, {"bp", s.bleu.bp},
                             {"ratio", s.bleu.ratio}, {"hyp_len", s.bleu.hyp_len}, {"ref_len", s.bleu.ref_len},
                             {"sentences", s.sentences}, {"decode_seconds", s.seconds},
                             {"hypotheses", c.out + "/" + name + ".hyp"}};
  }
  ex::write_json(c.out + (c.eval_only ? "/results_eval.json" : "/results.json"), results);
  std::cout << "results: " << c.out << (c.eval_only ? "/results_eval.json" : "/results.json") << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  const std::vector<std::string>& presets = AttentionConfig::preset_names();
  std::string preset_list;
  for (const std::string& p : presets) preset_list += (preset_list.empty() ? "" : ", ") + p;
  CLI::App app{"fwp-mt: translation with fast weight programmers (paper Sec. 6.2)"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  fwp::experiments::one_line_errors(app, "fwp-mt");
  app.add_option("--data", c.data, "folder with {train,valid,test}.{es,en} and spm.model");
  app.add_option("--src-lang", c.src_lang, "source file suffix");
  app.add_option("--tgt-lang", c.tgt_lang, "target file suffix");
  app.add_option("--out", c.out, "output folder (checkpoint, metrics, translations, results)");
  app.add_option("--enc-attention", c.enc_attention, "encoder self-attention: " + preset_list + " (non-causal: softmax or a sum rule)")->check(CLI::IsMember(presets));
  app.add_option("--dec-attention", c.dec_attention, "decoder self-attention (causal): any preset")->check(CLI::IsMember(presets));
  app.add_option("--cross-attention", c.cross_attention, "encoder-decoder attention (non-causal: softmax or a sum rule)")->check(CLI::IsMember(presets));
  app.add_option("--d-model", c.d_model, "model width D")->check(experiments::count_in(1, ex::kMaxSize));
  app.add_option("--enc-layers", c.enc_layers, "encoder layers")->check(experiments::count_in(1, 1024));
  app.add_option("--dec-layers", c.dec_layers, "decoder layers")->check(experiments::count_in(1, 1024));
  app.add_option("--heads", c.heads, "attention heads")->check(experiments::count_in(1, 1024));
  app.add_option("--d-head", c.d_head, "width of a head (key width before the feature map)")->check(experiments::count_in(1, ex::kMaxSize));
  app.add_option("--d-ff", c.d_ff, "feed-forward width")->check(experiments::count_in(1, ex::kMaxSize));
  app.add_option("--dropout", c.dropout, "dropout")->check(experiments::real_in(0, 0.99));
  app.add_option("--favor-m", c.favor_m, "FAVOR+ random features m (Ddot = 2m)")->check(experiments::count_in(1, ex::kMaxSize));
  app.add_option("--dpfp-nu", c.dpfp_nu, "DPFP nu (Ddot = 2 d_head nu)")->check(experiments::count_in(1, 64));
  app.add_option("--steps", c.steps, "optimizer steps")->check(experiments::count_in(0, ex::kMaxSteps));
  app.add_option("--warmup", c.warmup, "warm-up steps")->check(experiments::count_in(0, ex::kMaxSteps))->default_str("--steps / 10");
  app.add_option("--max-tokens", c.max_tokens, "padded positions per batch, B * max(S, T)")->check(experiments::count_in(1, ex::kMaxLength));
  app.add_option("--lr", c.lr, "Adam learning rate (peak)")->check(experiments::kPositive);
  app.add_option("--schedule", c.schedule, "cosine | constant | inverse_sqrt")->check(CLI::IsMember({"cosine", "constant", "inverse_sqrt"}));
  app.add_option("--clip", c.clip, "global gradient-norm clipping (0: off)")->check(experiments::kNonNegative);
  app.add_option("--label-smoothing", c.label_smoothing, "label smoothing eps")->check(experiments::real_in(0, 0.99));
  app.add_option("--weight-decay", c.weight_decay, "L2 weight decay (Adam)")->check(experiments::kNonNegative);
  app.add_option("--log-every", c.log_every, "steps between metrics rows (and progress lines)")->check(experiments::count_in(1, ex::kMaxSteps));
  app.add_option("--log-seconds", c.log_seconds, "a progress line after the first step and at least this often")->check(experiments::kNonNegative);
  app.add_option("--eval-every", c.eval_every, "steps between validation losses and checkpoints")->check(experiments::count_in(1, ex::kMaxSteps));
  app.add_option("--valid-bleu-every", c.valid_bleu_every, "steps between greedy valid BLEU scores (0: never)")->check(experiments::count_in(0, ex::kMaxSteps));
  app.add_option("--beam", c.beam, "beam size of the final evaluation (1: greedy)")->check(experiments::count_in(1, 1024));
  app.add_option("--lenpen", c.lenpen, "length penalty: score / length^lenpen")->check(experiments::real_in(0, 100));
  app.add_option("--max-len-a", c.max_len_a, "output length limit a n + b (n: source length)")->check(experiments::real_in(0, 1000));
  app.add_option("--max-len-b", c.max_len_b, "output length limit a n + b")->check(experiments::count_in(0, ex::kMaxLength));
  app.add_option("--eval-max-tokens", c.eval_max_tokens, "source positions per decoding batch")->check(experiments::count_in(1, ex::kMaxLength));
  app.add_option("--eval-splits", c.eval_splits, "splits translated at the end (comma list of valid, test, train; empty: none)");
  app.add_flag("--resume", c.resume, "continue OUT/checkpoint.safetensors (a fresh run if there is none)");
  app.add_flag("--eval-only", c.eval_only, "only translate and score, with OUT/checkpoint.safetensors");
  app.add_option("--seed", c.seed, "seed (weights, dropout, batch order)")->check(experiments::count_in(0, ex::kMaxSeed));
  app.add_option("--device", c.device, "cpu | cuda");
  app.add_option("--threads", c.threads, "OpenMP threads (default: all cores)")->check(experiments::count_in(0, 1024));
  return ex::guarded_main("fwp-mt", [&] {
    FWP_CLI_PARSE(app, argc, argv);
    return ex::run_processes("fwp-mt", [&] { return run(c); });
  });
}
