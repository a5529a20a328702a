// The synthetic retrieval experiment: data follows the protocol, the fast model equals the
// plainly written one (values and gradients), and a tiny run learns.
#include "tests/catch.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "autograd/functions.h"
#include "core/file_io.h"
#include "experiments/common/run_utils.h"
#include "experiments/synthetic/train.h"

using namespace fwp;
using namespace fwp::synthetic;
using fwp_test::AllClose;
using fwp_test::HasSubstr;

TEST_CASE("setting 1 sequences are permutations and targets match", "[experiments][synthetic]") {
  RetrievalTask task(1, 9);
  Rng rng(1);
  RetrievalBatch b = task.train_batch(4, rng);
  REQUIRE(b.keys.shape == Shape({4, 9}));
  for (int64_t i = 0; i < 4; ++i) {
    std::set<int64_t> keys(b.keys.values.begin() + i * 9, b.keys.values.begin() + (i + 1) * 9);
    std::set<int64_t> vals(b.values.values.begin() + i * 9, b.values.values.begin() + (i + 1) * 9);
    CHECK(keys.size() == 9);
    CHECK(vals.size() == 9);
    for (int64_t t = 0; t < 9; ++t)
      if (b.keys.values[i * 9 + t] == b.query.values[i]) CHECK(b.values.values[i * 9 + t] == b.target.values[i]);
  }
}

TEST_CASE("setting 2 targets are the last occurrence", "[experiments][synthetic]") {
  RetrievalTask task(2, 5);
  Rng rng(2);
  RetrievalBatch b = task.train_batch(50, rng);
  REQUIRE(b.length() == 10);
  int repeated = 0;
  for (int64_t i = 0; i < 50; ++i) {
    int64_t last = -1, count = 0;
    for (int64_t t = 0; t < 10; ++t)
      if (b.keys.values[i * 10 + t] == b.query.values[i]) last = t, ++count;
    REQUIRE(last >= 0);
    CHECK(b.values.values[i * 10 + last] == b.target.values[i]);
    repeated += count > 1;
  }
  CHECK(repeated > 0);  // with 10 draws from 5 keys, repeats are the point of setting 2
}

TEST_CASE("eval batches query every distinct key once, smallest first", "[experiments][synthetic]") {
  RetrievalTask task(2, 30);
  Rng rng(3);
  auto batches = task.eval_batches(30, 8, rng);
  std::vector<int64_t> queries;
  for (auto& b : batches) {
    CHECK(b.batch() <= 8);
    queries.insert(queries.end(), b.query.values.begin(), b.query.values.end());
  }
  std::set<int64_t> distinct(batches[0].keys.values.begin(), batches[0].keys.values.begin() + 30);
  CHECK(queries == std::vector<int64_t>(distinct.begin(), distinct.end()));
  RetrievalTask big(1, 300);
  size_t n = 0;
  for (auto& b : big.eval_batches(300, 32, rng)) n += b.batch();
  CHECK(n == 200);  // at most 200 queries, as in the authors' code
}

TEST_CASE("retrieval model fast path equals the plain model, values and gradients",
          "[experiments][synthetic]") {
  for (const char* name : {"linear_sum", "dpfp2_sum", "favor8_sum", "softmax", "linear_delta",
                           "dpfp1_delta", "tanh_fwm", "dpfp1_fwm", "linear_gdelta",
                           "dpfp1_gdelta", "linear_dprod", "dpfp1_dprod"}) {
    INFO(name);
    ModelConfig c = config_from_name(name, 6);
    c.d_key = 5;
    c.phi.redraw = FavorRedraw::fixed;
    Rng init(1), data(2);
    RetrievalModel model(c, init, 3, DType::f64);
    RetrievalTask task(2, 6);
    RetrievalBatch batch = task.train_batch(3, data);
    Variable fast = model.forward(batch);
    backward(model.loss(fast, batch.target));
    std::vector<Tensor> grads;
    for (auto& p : model.parameters()) grads.push_back(p.grad().clone());
    model.zero_grad();
    Variable plain = model.forward_reference(batch);
    backward(model.loss(plain, batch.target));
    CHECK_THAT(fast.value(), AllClose(plain.value(), 1e-12, 1e-9));
    auto params = model.named_parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      INFO(params[i].first);
      CHECK_THAT(params[i].second.grad(), AllClose(grads[i], 1e-12, 1e-9));
    }
  }
}

TEST_CASE("an all-zero output scores exactly 0.5", "[experiments][synthetic]") {
  ModelConfig c = config_from_name("linear_sum", 4);
  Rng rng(1);
  RetrievalModel model(c, rng, 1);
  Variable zeros(Tensor::zeros({3, 4}));
  CHECK(model.loss(zeros, Indices({3}, {0, 2, 3})).item() == 0.5);
}

TEST_CASE("config names parse and bad ones are rejected", "[experiments][synthetic]") {
  ModelConfig c = config_from_name("dpfp3_delta", 20);
  CHECK(c.phi.kind == FeatureMapKind::dpfp);
  CHECK(c.phi.nu == 3);
  CHECK(c.rule == UpdateRule::delta);
  CHECK(config_name(config_from_name("favor128_sum", 20)) == "favor128_sum");
  CHECK(config_from_name("dpfp1_gdelta", 20).rule == UpdateRule::gated_delta);
  CHECK(config_from_name("softmax", 20).softmax);
  CHECK(config_name(config_from_name("linear_gdelta", 20)) == "linear_gdelta");
  CHECK(config_from_name("dpfp2_dprod", 20).rule == UpdateRule::delta_product);
  CHECK_THROWS_WITH(config_from_name("dpfp_sum", 20), HasSubstr("dpfp<nu>"));
  CHECK_THROWS_WITH(config_from_name("linear_hebb", 20), HasSubstr("hebb"));
  CHECK(experiments::parse_int_list("20:100:40") == std::vector<int64_t>{20, 60, 100});
  CHECK_THROWS_WITH(experiments::parse_int_list("20:x:4"), HasSubstr("x"));
}

namespace {
// Setting 1 with S = 4 keys and d_key = 16: a run of a few hundred steps takes well under a second.
TrainConfig tiny_run(const std::string& config, int64_t max_steps, int64_t eval_every,
                     int64_t eval_sequences) {
  TrainConfig c;
  c.setting = 1;
  c.model = config_from_name(config, 4);
  c.model.d_key = 16;
  c.max_steps = max_steps;
  c.eval_every = eval_every;
  c.eval_sequences = eval_sequences;
  return c;
}
}  // namespace

TEST_CASE("a tiny retrieval run learns", "[experiments][synthetic]") {
  TrainConfig c = tiny_run("dpfp1_sum", 300, 100, 4);
  c.patience = 100;
  std::ostringstream log;
  TrainResult r = train_retrieval(c, log);
  INFO(log.str());
  CHECK(r.steps == 300);
  CHECK(r.final_eval_loss < 0.2);  // chance (all-zero output) is 0.5
  CHECK_THAT(log.str(), HasSubstr("steps/s"));
}

TEST_CASE("a diverging run stops and is reported, not thrown", "[experiments][synthetic]") {
  TrainConfig c = tiny_run("linear_sum", 50, 10, 2);
  c.lr = 1e10;  // Adam steps of 1e10: the loss is NaN after the first update
  std::ostringstream log;
  TrainResult r = train_retrieval(c, log);
  INFO(log.str());
  CHECK(r.steps < 50);
  CHECK(std::isnan(r.final_eval_loss));
  CHECK(r.stop_reason == "diverged at step " + std::to_string(r.steps));
  CHECK_THAT(log.str(), HasSubstr("diverged"));
}

TEST_CASE("two fwp-synthetic processes share one output folder without losing rows",
          "[experiments][synthetic][cli]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / cat("fwp_test_synthetic_", ::getpid());
  fs::remove_all(dir);
  const std::string run = cat(FWP_SYNTHETIC_PROGRAM, " --setting 1 --S 4,6,8 --max-steps 20",
                              " --eval-every 10 --eval-sequences 2 --threads 1 --out ",
                              dir.string(), " --configs ");
  // both at once, each exit status checked
  const std::string both = cat(run, "linear_sum > /dev/null & a=$!; ", run,
                               "dpfp1_sum > /dev/null & b=$!; wait $a && wait $b");
  REQUIRE(std::system(both.c_str()) == 0);
  auto count_rows = [&] {
    std::map<std::string, int> n;
    std::istringstream in(read_file((dir / "summary.csv").string()));
    for (std::string line; std::getline(in, line);)
      n[line.substr(0, line.find(',', line.find(',') + 1))]++;  // "setting,config"
    return n;
  };
  std::map<std::string, int> n = count_rows();
  CHECK(n["1,linear_sum"] == 3);
  CHECK(n["1,dpfp1_sum"] == 3);
  // a third process with both configurations finds all six runs done
  const std::string again = cat(run, "linear_sum,dpfp1_sum > ", (dir / "again.log").string());
  REQUIRE(std::system(again.c_str()) == 0);
  const std::string log = read_file((dir / "again.log").string());
  size_t skipped = 0;
  for (size_t p = log.find("skipped"); p != std::string::npos; p = log.find("skipped", p + 1))
    ++skipped;
  CHECK(skipped == 6);
  CHECK(count_rows() == n);
  fs::remove_all(dir);
}
