// End to end: a two-layer tanh MLP learns XOR with Adam (plus clipping and the warm-up cosine
// schedule) to near-zero loss, and a checkpoint round trip reproduces its outputs exactly.
#include "tests/catch.h"

#include <unistd.h>

#include <filesystem>

#include "autograd/functions.h"
#include "layers/linear.h"
#include "optim/checkpoint.h"
#include "optim/schedule.h"

using namespace fwp;
using fwp_test::AllClose;

namespace {

struct Mlp : Module {
  std::shared_ptr<Linear> l1, l2;
  explicit Mlp(uint64_t seed) {
    Rng rng(seed);
    l1 = register_module("l1", std::make_shared<Linear>(2, 8, rng));
    l2 = register_module("l2", std::make_shared<Linear>(8, 1, rng));
  }
  Variable forward(const Variable& x) const { return l2->forward(tanh(l1->forward(x))); }
};

}  // namespace

TEST_CASE("two-layer MLP learns XOR with Adam; checkpoint reproduces it", "[optim][e2e]") {
  const Variable x(Tensor::from_vector({0, 0, 0, 1, 1, 0, 1, 1}, {4, 2}));
  const Variable y(Tensor::from_vector({0, 1, 1, 0}, {4, 1}));
  Mlp model(7);
  Adam opt(model.parameters(), {.lr = 0.05});
  const int steps = 400;
  double first_loss = 0, loss_value = 0;
  for (int step = 0; step < steps; ++step) {
    opt.set_lr(warmup_cosine_lr(step, 0.05, 20, steps));
    opt.zero_grad();
    Variable loss = mse_loss(model.forward(x), y);
    backward(loss);
    clip_grad_norm_(model.parameters(), 5.0);
    opt.step();
    loss_value = loss.item();
    if (step == 0) first_loss = loss_value;
  }
  INFO("loss " << first_loss << " -> " << loss_value);
  CHECK(first_loss > 0.1);
  CHECK(loss_value < 1e-4);
  Tensor out;
  {
    NoGradGuard no_grad;
    out = model.forward(x).value();
  }
  for (int64_t i = 0; i < 4; ++i) CHECK(std::abs(out.at({i, 0}) - y.value().at({i, 0})) < 0.1);

  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / cat("fwp_test_xor_", ::getpid());
  fs::create_directories(dir);
  const std::string path = (dir / "xor.safetensors").string();
  save_checkpoint(path, model, &opt, {{"task", "xor"}});
  Mlp restored(99);
  load_checkpoint(path, restored);
  fs::remove_all(dir);
  NoGradGuard no_grad;
  CHECK_THAT(restored.forward(x).value(), AllClose(out, 0, 0));
}
