// Module checkpoints: exact round trips of parameters, buffers and metadata; mismatches rejected
// with nothing half-loaded; optimizer state restored so that training continues identically.
#include "tests/catch.h"

#include <unistd.h>

#include <filesystem>

#include "autograd/functions.h"
#include "core/safetensors.h"
#include "layers/linear.h"
#include "optim/checkpoint.h"

using namespace fwp;
using fwp_test::AllClose;
using fwp_test::HasSubstr;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path dir;
  explicit TempDir(const std::string& tag) {
    dir = fs::temp_directory_path() / cat("fwp_test_ckpt_", tag, "_", ::getpid());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() { fs::remove_all(dir); }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

// Two linear layers and a buffer; `hidden` and `dtype` let tests build mismatching models.
struct Net : Module {
  std::shared_ptr<Linear> l1, l2;
  Tensor scale;
  Net(uint64_t seed, int64_t hidden = 5, DType dtype = DType::f32) {
    Rng rng(seed);
    l1 = register_module("l1", std::make_shared<Linear>(3, hidden, rng, LinearOptions{.dtype = dtype}));
    l2 = register_module("l2", std::make_shared<Linear>(hidden, 2, rng, LinearOptions{.dtype = dtype}));
    scale = Tensor::randn({2}, rng, dtype);
    register_buffer("scale", &scale);
  }
  Variable forward(const Variable& x) const {
    return l2->forward(tanh_free(l1->forward(x))) * Variable(scale);
  }
  // A nonlinearity from the always-available ops: x / (1 + x*x).
  static Variable tanh_free(const Variable& x) { return x / (x * x + 1.0); }
};

Variable loss_of(const Net& net, const Variable& x, const Variable& y) {
  Variable d = net.forward(x) - y;
  return mean(d * d);
}

void train(Net& net, Optimizer& opt, int steps, uint64_t data_seed) {
  Rng rng(data_seed);
  for (int s = 0; s < steps; ++s) {
    Variable x(Tensor::randn({4, 3}, rng)), y(Tensor::randn({4, 2}, rng));
    opt.zero_grad();
    backward(loss_of(net, x, y));
    opt.step();
  }
}

void check_same_params(const Module& a, const Module& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    INFO(pa[i].first);
    CHECK_THAT(pb[i].second.value(), AllClose(pa[i].second.value(), 0, 0));
  }
}

}  // namespace

TEST_CASE("checkpoint round trip restores parameters, buffers and metadata exactly", "[optim][checkpoint]") {
  TempDir tmp("roundtrip");
  for (DType dt : {DType::f32, DType::f64}) {
    Net a(1, 5, dt), b(2, 5, dt);
    const std::string path = tmp.file("net.safetensors");
    save_checkpoint(path, a, nullptr, {{"config", R"({"hidden": 5})"}});
    auto meta = load_checkpoint(path, b);
    CHECK(meta == std::map<std::string, std::string>{{"config", R"({"hidden": 5})"}});
    check_same_params(a, b);
    CHECK_THAT(b.scale, AllClose(a.scale, 0, 0));
    auto names = load_safetensors(path).tensors;
    CHECK(names.count("l1.weight") == 1);
    CHECK(names.count("l2.bias") == 1);
    CHECK(names.count("scale") == 1);
  }
}

TEST_CASE("checkpoint keeps the caller's run tensors apart from the model", "[optim][checkpoint]") {
  TempDir tmp("run");
  Net a(1), b(2);
  const std::string path = tmp.file("net.safetensors");
  Tensor carry = Tensor::from_vector({1.5, -2.0, 3.25}, {3});
  save_checkpoint(path, a, nullptr, {}, {{"carry.0", carry}});
  CHECK(load_safetensors(path).tensors.count("run.carry.0") == 1);
  std::map<std::string, Tensor> run;
  load_checkpoint(path, b, nullptr, &run);
  check_same_params(a, b);
  REQUIRE(run.count("carry.0") == 1);
  CHECK_THAT(run.at("carry.0"), AllClose(carry, 0, 0));
  Net c(3);
  CHECK_NOTHROW(load_checkpoint(path, c));  // without a destination they are ignored
  check_same_params(a, c);
}

TEST_CASE("checkpoint load rejects mismatches and loads nothing", "[optim][checkpoint][errors]") {
  TempDir tmp("mismatch");
  const std::string path = tmp.file("net.safetensors");
  Net saved(1);
  save_checkpoint(path, saved);

  Net wide(2, 7);  // l1.weight (7, 3) vs (5, 3): l1 comes first, so l1.bias etc. are never reached
  Tensor before = wide.l1->weight.value().clone(), scale_before = wide.scale.clone();
  CHECK_THROWS_WITH(load_checkpoint(path, wide),
                    HasSubstr(path) && HasSubstr("tensor 'l1.weight' has shape (5, 3) in the file but (7, 3)"));
  CHECK_THAT(wide.l1->weight.value(), AllClose(before, 0, 0));
  CHECK_THAT(wide.scale, AllClose(scale_before, 0, 0));

  Net f64(2, 5, DType::f64);
  CHECK_THROWS_WITH(load_checkpoint(path, f64), HasSubstr("'l1.weight' is f32 in the file but f64"));

  // a file lacking one tensor and carrying a stranger; the model must stay untouched
  auto contents = load_safetensors(path);
  contents.tensors.erase("l2.bias");
  save_safetensors(tmp.file("partial.safetensors"), contents.tensors);
  Net other(3);
  Tensor w_before = other.l1->weight.value().clone();
  CHECK_THROWS_WITH(load_checkpoint(tmp.file("partial.safetensors"), other),
                    HasSubstr("partial.safetensors") && HasSubstr("missing tensors: l2.bias"));
  CHECK_THAT(other.l1->weight.value(), AllClose(w_before, 0, 0));
  contents = load_safetensors(path);
  contents.tensors.emplace("l3.weight", Tensor::zeros({1}));
  save_safetensors(tmp.file("extra.safetensors"), contents.tensors);
  CHECK_THROWS_WITH(load_checkpoint(tmp.file("extra.safetensors"), other),
                    HasSubstr("unexpected tensors (not in the model): l3.weight"));
  CHECK_THAT(other.l1->weight.value(), AllClose(w_before, 0, 0));

  contents = load_safetensors(path);
  contents.tensors["scale"] = Tensor::zeros({3});  // the last tensor checked: all others fit
  save_safetensors(tmp.file("late.safetensors"), contents.tensors);
  CHECK_THROWS_WITH(load_checkpoint(tmp.file("late.safetensors"), other),
                    HasSubstr("tensor 'scale' has shape (3) in the file but (2)"));
  CHECK_THAT(other.l1->weight.value(), AllClose(w_before, 0, 0));

  CHECK_THROWS_WITH(save_checkpoint(path, saved, nullptr, {{"optimizer.lr", "1"}}),
                    HasSubstr("metadata key 'optimizer.lr' is reserved"));
}

TEST_CASE("checkpoint with optimizer state continues training identically", "[optim][checkpoint]") {
  TempDir tmp("resume");
  const std::string path = tmp.file("resume.safetensors");
  Net a(1);
  AdamW opt_a(a.parameters(), {.lr = 0.05, .weight_decay = 0.02});
  train(a, opt_a, 3, 100);
  save_checkpoint(path, a, &opt_a, {{"epoch", "3"}});
  train(a, opt_a, 4, 200);  // the reference: 7 uninterrupted steps

  Net b(9);  // different weights and settings, all overwritten by the load
  AdamW opt_b(b.parameters(), {.lr = 1.0, .beta1 = 0.5});
  auto meta = load_checkpoint(path, b, &opt_b);
  CHECK(meta == std::map<std::string, std::string>{{"epoch", "3"}});
  CHECK(opt_b.step_count() == 3);
  CHECK(opt_b.lr() == 0.05);
  CHECK(opt_b.hyperparameters().at("beta1") == 0.9);
  CHECK(opt_b.hyperparameters().at("weight_decay") == 0.02);
  train(b, opt_b, 4, 200);
  check_same_params(a, b);  // bit-for-bit: same moments, same step count, same data

  auto names = load_safetensors(path).tensors;
  CHECK(names.count("optimizer.m.l1.weight") == 1);
  CHECK(names.count("optimizer.v.l2.bias") == 1);

  // the optimizer entries are ignored when only the model is loaded
  Net c(5);
  load_checkpoint(path, c);
  // a checkpoint of another optimizer type, or without optimizer state, is rejected
  SGD sgd(c.parameters(), {.lr = 0.1, .momentum = 0.9});
  CHECK_THROWS_WITH(load_checkpoint(path, c, &sgd),
                    HasSubstr("holds the state of optimizer 'adamw', not 'sgd'"));
  save_checkpoint(tmp.file("model_only.safetensors"), c);
  CHECK_THROWS_WITH(load_checkpoint(tmp.file("model_only.safetensors"), c, &sgd),
                    HasSubstr("no optimizer state"));
  // an optimizer over parameters that are not the module's cannot be saved
  Variable stray(Tensor::zeros({2}), true);
  Adam foreign({stray});
  CHECK_THROWS_WITH(save_checkpoint(path, c, &foreign), HasSubstr("not a parameter of the module"));
}

TEST_CASE("checkpoint keeps SGD momentum buffers", "[optim][checkpoint]") {
  TempDir tmp("sgd");
  const std::string path = tmp.file("sgd.safetensors");
  Net a(1), b(2);
  SGD opt_a(a.parameters(), {.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-3});
  SGD opt_b(b.parameters(), {.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-3});
  train(a, opt_a, 2, 7);
  save_checkpoint(path, a, &opt_a);
  load_checkpoint(path, b, &opt_b);
  train(a, opt_a, 3, 8);
  train(b, opt_b, 3, 8);
  check_same_params(a, b);
}
