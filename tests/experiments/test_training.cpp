// The shared training utilities (experiments/common/training.h, training_checkpoint.h,
// run_utils.h): schedules, the clipped step, training checkpoints that resume bit for bit
// (dropout and program generators included), corrupt or mismatching checkpoints rejected with
// nothing changed, metrics CSV on resume.
#include "tests/catch.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "autograd/functions.h"
#include "core/file_io.h"
#include "experiments/common/process.h"
#include "experiments/common/run_utils.h"
#include "experiments/common/training.h"
#include "experiments/common/training_checkpoint.h"
#ifdef FWP_WITH_CUDA
#include "kernels/cuda/runtime.h"
#endif
#include "layers/dropout.h"
#include "layers/linear.h"
#include "optim/checkpoint.h"
#include "optim/schedule.h"

using namespace fwp;
using namespace fwp::experiments;
using fwp_test::HasSubstr;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path dir;
  explicit TempDir(const std::string& tag) {
    dir = fs::temp_directory_path() / cat("fwp_test_training_", tag, "_", ::getpid());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() { fs::remove_all(dir); }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

// Linear -> dropout -> linear: the dropout masks come from a registered generator.
struct Net : Module {
  std::shared_ptr<Linear> l1, l2;
  std::shared_ptr<Dropout> drop;
  explicit Net(uint64_t seed, int64_t hidden = 6) {
    Rng rng(seed);
    l1 = register_module("l1", std::make_shared<Linear>(3, hidden, rng));
    drop = register_module("drop", std::make_shared<Dropout>(0.3, seed + 7));
    l2 = register_module("l2", std::make_shared<Linear>(hidden, 2, rng));
  }
  Variable forward(const Variable& x) { return l2->forward(drop->forward(relu(l1->forward(x)))); }
};

// `steps` training steps; the data come from `data_rng` (a program generator).
void train(Net& net, Adam& opt, Rng& data_rng, int steps, const LrSchedule& schedule) {
  for (int s = 0; s < steps; ++s) {
    Variable x(Tensor::randn({4, 3}, data_rng)), y(Tensor::randn({4, 2}, data_rng));
    train_step(opt, mse_loss(net.forward(x), y), schedule, 0.5);
  }
}

std::vector<double> flat_params(const Module& m) {
  std::vector<double> out;
  for (auto& [name, v] : m.named_parameters())
    for (double x : v.value().to_vector()) out.push_back(x);
  return out;
}

const LrSchedule kSchedule{LrSchedule::Kind::cosine, 0.05, 2, 10};

}  // namespace

TEST_CASE("lr schedules: warm-up then cosine, constant or inverse sqrt", "[experiments][training]") {
  CHECK(kSchedule.at(0) == warmup_cosine_lr(0, 0.05, 2, 10));
  CHECK(kSchedule.at(6) == warmup_cosine_lr(6, 0.05, 2, 10));
  LrSchedule c{LrSchedule::Kind::constant, 1.0, 4, 100};
  CHECK(c.at(0) == 0.25);
  CHECK(c.at(3) == 1.0);
  CHECK(c.at(50) == 1.0);
  LrSchedule r{LrSchedule::Kind::inverse_sqrt, 1.0, 4, 100};
  CHECK(r.at(1) == 0.5);
  CHECK(r.at(3) == 1.0);
  CHECK_THAT(r.at(15), Catch::Matchers::WithinRel(0.5, 1e-12));  // sqrt(4 / 16)
  CHECK(lr_schedule_kind_from_string("inverse_sqrt") == LrSchedule::Kind::inverse_sqrt);
  CHECK_THROWS_WITH(lr_schedule_kind_from_string("linear"), HasSubstr("unknown learning-rate schedule 'linear'"));
}

TEST_CASE("train_step clips the global gradient norm and uses the scheduled lr", "[experiments][training]") {
  Variable w(Tensor::from_vector({3.0, 4.0}, {2}), true);  // loss = 10 (w . 1) -> grad (10, 10)
  Adam opt({w}, AdamOptions{.lr = 123.0});
  LrSchedule s{LrSchedule::Kind::constant, 0.1, 0, 10};
  StepResult r = train_step(opt, sum(w) * 10.0, s, 1.0);
  CHECK_THAT(r.grad_norm, Catch::Matchers::WithinRel(std::sqrt(200.0), 1e-6));
  CHECK(r.lr == 0.1);
  CHECK(opt.lr() == 0.1);
  CHECK_THAT(std::hypot(w.grad().to_vector()[0], w.grad().to_vector()[1]),
             Catch::Matchers::WithinRel(1.0, 1e-5));  // clipped to norm 1
  CHECK_THROWS_WITH(train_step(opt, sum(w) * NAN, s, 1.0),
                    HasSubstr("training diverged at step 2: the loss is nan"));
}

TEST_CASE("a diverging step names the first non-finite tensor and no checkpoint can hold it",
          "[experiments][training]") {
  TempDir tmp("diverge");
  const std::string path = tmp.file("ck.safetensors");
  const LrSchedule constant{LrSchedule::Kind::constant, 1e200, 0, 10};
  SECTION("a parameter after the update (a learning rate of 1e200)") {
    Net a(1);
    name_parameters(a);
    Adam opt(a.parameters(), AdamOptions{.lr = 1e200});
    Rng data(5);
    Variable x(Tensor::randn({4, 3}, data)), y(Tensor::randn({4, 2}, data));
    CHECK_THROWS_WITH(train_step(opt, mse_loss(a.forward(x), y), constant, 0.0),
                      HasSubstr("training diverged at step 1: parameter 'l1.weight' holds "
                                "non-finite values after the update"));
    TrainingState st;
    st.step = 1;
    CHECK_THROWS_WITH(save_training_checkpoint(path, a, opt, st),
                      HasSubstr("parameter 'l1.weight' holds non-finite values"));
    CHECK_FALSE(file_exists(path));  // nothing written
  }
  SECTION("a gradient (d sqrt(w) / dw at w = 0), nothing updated") {
    Variable w(Tensor::from_vector({0.0, 4.0}, {2}), true);
    w.set_name("w");
    Adam opt({w}, AdamOptions{.lr = 0.1});
    CHECK_THROWS_WITH(train_step(opt, sum(sqrt(w)), constant, 1.0),
                      HasSubstr("training diverged at step 1: the gradient of 'w' holds non-finite"));
    CHECK(w.value().to_vector() == std::vector<double>{0.0, 4.0});
    CHECK(opt.step_count() == 0);
  }
}

TEST_CASE("stale temporary files of killed writers are removed, live ones kept",
          "[experiments][training]") {
  TempDir tmp("stale");
  const std::string dead = "999999999";  // above any pid_max: no such process
  const std::string live = std::to_string(::getpid());
  for (const std::string& name : {"config.json.tmp." + dead, ".ck.safetensors.tmp." + dead + ".3",
                                  "metrics.csv.tmp." + live, ".ck.safetensors.tmp." + live + ".0",
                                  std::string("notes.tmp.txt"), std::string("config.json")})
    write_file_atomic(tmp.file(name), "x");
  CHECK(remove_stale_temp_files(tmp.dir.string()) == 2);
  CHECK_FALSE(file_exists(tmp.file("config.json.tmp." + dead)));
  CHECK_FALSE(file_exists(tmp.file(".ck.safetensors.tmp." + dead + ".3")));
  CHECK(file_exists(tmp.file("metrics.csv.tmp." + live)));
  CHECK(file_exists(tmp.file(".ck.safetensors.tmp." + live + ".0")));
  CHECK(file_exists(tmp.file("notes.tmp.txt")));
  CHECK(file_exists(tmp.file("config.json")));
  CHECK(remove_stale_temp_files(tmp.file("missing")) == 0);
}

TEST_CASE("training checkpoint resumes bit-identically", "[experiments][training]") {
  TempDir tmp("resume");
  // Uninterrupted: 7 steps.
  Net ref(1);
  Adam ref_opt(ref.parameters(), AdamOptions{.lr = 0.05});
  Rng ref_data(5);
  train(ref, ref_opt, ref_data, 7, kSchedule);

  // Interrupted after 3 steps, saved, restored into fresh objects, 4 more steps.
  Net a(1);
  Adam a_opt(a.parameters(), AdamOptions{.lr = 0.05});
  Rng a_data(5);
  train(a, a_opt, a_data, 3, kSchedule);
  TrainingState st{.step = 3, .tokens_seen = 12, .epoch = 1, .position = 9, .seconds = 0.25,
                   .extra = {{"note", "x y"}}, .tensors = {{"carry", Tensor::from_vector({0.5, 2.0}, {2})}}};
  save_training_checkpoint(tmp.file("ck.safetensors"), a, a_opt, st, {{"data", &a_data}}, "{\"lr\": 1}");

  Net b(99);  // other initial weights and dropout seed: everything must come from the file
  Adam b_opt(b.parameters(), AdamOptions{.lr = 0.7});
  Rng b_data(1234);
  TrainingState got = load_training_checkpoint(tmp.file("ck.safetensors"), b, b_opt,
                                               {{"data", &b_data}}, "{\"lr\": 1}");
  CHECK(got.step == 3);
  CHECK(got.tokens_seen == 12);
  CHECK(got.epoch == 1);
  CHECK(got.position == 9);
  CHECK(got.seconds == 0.25);
  CHECK(got.extra == std::map<std::string, std::string>{{"note", "x y"}});
  REQUIRE(got.tensors.count("carry") == 1);
  CHECK(got.tensors.at("carry").to_vector() == std::vector<double>{0.5, 2.0});
  CHECK(b_opt.step_count() == 3);
  train(b, b_opt, b_data, 4, kSchedule);
  CHECK(flat_params(b) == flat_params(ref));  // bitwise
}

TEST_CASE("training checkpoint: corrupt or mismatching files are rejected, nothing changes", "[experiments][training]") {
  TempDir tmp("corrupt");
  Net a(1);
  Adam a_opt(a.parameters());
  Rng data(5);
  train(a, a_opt, data, 2, kSchedule);
  const std::string path = tmp.file("ck.safetensors");
  TrainingState st;
  st.step = 2;
  save_training_checkpoint(path, a, a_opt, st, {{"data", &data}},
                           R"({"model": {"layers": 2, "d": 8}, "lr": 1})");
  const std::string bytes = read_file(path);

  Net b(2);
  Adam b_opt(b.parameters());
  const std::vector<double> before = flat_params(b);
  Rng b_data(3);
  auto load_b = [&](const std::string& p, const std::string& fp = "") {
    return load_training_checkpoint(p, b, b_opt, {{"data", &b_data}}, fp);
  };

  SECTION("a flipped byte in the tensor data") {
    std::string flipped = bytes;
    flipped[flipped.size() - 5] ^= 0x10;
    write_file_atomic(tmp.file("flip.safetensors"), flipped);
    CHECK_THROWS_WITH(load_b(tmp.file("flip.safetensors")), HasSubstr("is corrupt: checksum"));
  }
  SECTION("a truncated file") {
    write_file_atomic(tmp.file("cut.safetensors"), bytes.substr(0, bytes.size() - 100));
    CHECK_THROWS_WITH(load_b(tmp.file("cut.safetensors")), HasSubstr("cut.safetensors"));
  }
  SECTION("a different configuration") {
    CHECK_THROWS_WITH(load_b(path, R"({"model": {"layers": 3, "d": 8}, "lr": 1})"),
                      HasSubstr("different configuration: model.layers: 2 -> 3"));
  }
  SECTION("a different model") {
    Net c(1, /*hidden=*/7);
    Adam c_opt(c.parameters());
    CHECK_THROWS_WITH(load_training_checkpoint(path, c, c_opt, {{"data", &b_data}}),
                      HasSubstr("l1.weight"));
  }
  SECTION("a generator the file does not have") {
    Rng other;
    CHECK_THROWS_WITH(load_training_checkpoint(path, b, b_opt, {{"shuffle", &other}}),
                      HasSubstr("no state for the random generator 'rng.run.shuffle'"));
  }
  SECTION("a missing file") {
    CHECK_THROWS_WITH(load_b(tmp.file("missing.safetensors")), HasSubstr("missing.safetensors"));
  }
  SECTION("an edited optimizer setting (the hyper-parameters are inside the checksum)") {
    std::string edited = bytes;
    const std::string from = R"("optimizer.beta2":"0.999")", to = R"("optimizer.beta2":"0.998")";
    const size_t at = edited.find(from);
    REQUIRE(at != std::string::npos);
    edited.replace(at, from.size(), to);
    write_file_atomic(tmp.file("beta2.safetensors"), edited);
    CHECK_THROWS_WITH(load_b(tmp.file("beta2.safetensors")), HasSubstr("is corrupt: checksum"));
    CHECK_THROWS_WITH(load_verified_checkpoint(tmp.file("beta2.safetensors"), b),
                      HasSubstr("is corrupt: checksum"));
  }
  SECTION("evaluation loads verify too") {
    std::string flipped = bytes;
    flipped[flipped.size() - 5] ^= 0x10;
    write_file_atomic(tmp.file("flip.safetensors"), flipped);
    CHECK_THROWS_WITH(load_verified_checkpoint(tmp.file("flip.safetensors"), b),
                      HasSubstr("is corrupt: checksum"));
    Net c(3);
    load_verified_checkpoint(path, c);  // the sound file loads
    CHECK(flat_params(c) == flat_params(a));
  }
  SECTION("a plain module checkpoint is not a training checkpoint") {
    save_checkpoint(tmp.file("plain.safetensors"), a, &a_opt);
    CHECK_THROWS_WITH(load_b(tmp.file("plain.safetensors")), HasSubstr("has no train.checksum"));
  }
  CHECK(flat_params(b) == before);
  CHECK(b_opt.step_count() == 0);
}

TEST_CASE("metrics CSV drops rows written after the checkpoint on resume", "[experiments][training]") {
  TempDir tmp("metrics");
  const std::string path = tmp.file("m.csv");
  {
    MetricsCsv m(path, {"step", "loss", "valid_ppl"});
    m.add({10, 2.5, NAN});
    m.add({20, 2.25, 9.5});
    m.add({30, 2.0, NAN});
  }
  CHECK(read_file(path) == "step,loss,valid_ppl\n10,2.5,\n20,2.25,9.5\n30,2,\n");
  MetricsCsv m(path, {"step", "loss", "valid_ppl"});
  m.resume(20);
  m.add({25, 1.5, NAN});
  CHECK(read_file(path) == "step,loss,valid_ppl\n10,2.5,\n20,2.25,9.5\n25,1.5,\n");
  MetricsCsv other(path, {"step", "loss"});
  CHECK_THROWS_WITH(other.resume(20), HasSubstr("does not match"));
}

TEST_CASE("non-finite values are found together, then named, on either device",
          "[experiments][training]") {
  Rng rng(5);
  Linear lin(3, 2, rng);
  name_parameters(lin);
  std::vector<Device> devices = {Device::cpu};
#ifdef FWP_WITH_CUDA
  if (kernels::cuda::available()) devices.push_back(Device::cuda);
#endif
  for (Device dev : devices) {
    INFO("device " << (dev == Device::cpu ? "cpu" : "cuda"));
    lin.to(dev);
    Adam adam(lin.parameters(), AdamOptions{});
    CHECK(all_finite_together({lin.weight.value(), Tensor::zeros({0}, DType::f32, dev)}));
    CHECK(find_non_finite(adam).empty());
    for (double bad : {double(NAN), double(INFINITY), -double(INFINITY)}) {
      Tensor w = lin.weight.value().to(Device::cpu);
      w.data<float>()[4] = float(bad);
      Tensor b = Tensor::full({2}, 1e300, DType::f64, dev);  // huge but finite, in f64
      CHECK(all_finite_together({b, lin.bias.value()}));
      CHECK_FALSE(all_finite_together({b, w.to(dev)}));
      CHECK_FALSE(all_finite(w.to(dev)));
      lin.weight.mutable_value().copy_(w);
      CHECK(find_non_finite(adam) == "parameter 'weight'");
      lin.weight.mutable_value().copy_(Tensor::zeros(w.shape(), DType::f32));
    }
  }
  lin.to(Device::cpu);
}

TEST_CASE("device and progress helpers", "[experiments][training]") {
  CHECK(check_device("cpu") == Device::cpu);
#ifdef FWP_WITH_CUDA
  if (kernels::cuda::available())
    CHECK(check_device("cuda") == Device::cuda);
  else
    CHECK_THROWS_WITH(check_device("cuda"), HasSubstr("no CUDA device answers"));
#else
  CHECK_THROWS_WITH(check_device("cuda"), HasSubstr("no CUDA backend in this build"));
#endif
  CHECK_THROWS_WITH(check_device("tpu"), HasSubstr("unknown device 'tpu'"));
  Progress p(0, 100);
  p.step_done(500, 0.25);
  p.step_done(500, 0.25);
  std::string line = p.line(2, 3.25, 1e-4);
  CHECK_THAT(line, HasSubstr("step   2/100 | loss 3.2500 | lr 1.00e-04 | 2000 tok/s"));
  CHECK_THAT(line, HasSubstr("ETA"));
  CHECK(p.tokens_per_second() == 2000.0);
}
