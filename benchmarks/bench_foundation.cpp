// bench_foundation: the time of one training step (zero_grad, forward, backward, Adam step), f32,
// for two models; scripts/bench_foundation_torch.py times the same steps in PyTorch.
//   mlp:          4 x Linear(512, 512), ReLU between, cross-entropy over 512 classes, batch 256
//   transformer:  token embedding (V=4096, D=512), one pre-LN block (QKV projection, causal
//                 softmax attention composed from matmul / masked_fill / softmax, 8 heads, output
//                 projection, ReLU feed-forward 512-2048-512), final LayerNorm, vocabulary
//                 projection, cross-entropy; B=8, T=256
// Prints the median wall time over --reps steps after --warmup untimed steps, and the median CPU
// time of the process per step (with one thread, a measure of the work that load barely
// disturbs; with more, it also counts threads spinning at barriers). Run on a quiet machine.
#include <cblas.h>
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <functional>

#include "autograd/functions.h"
#include "benchmarks/bench_util.h"
#include "layers/embedding.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "optim/optimizer.h"

using namespace fwp;

using bench::Timing;
using bench::time_steps;

namespace {

struct Config {
  int reps = 20;
  int warmup = 3;
  std::string which = "all";  // mlp | transformer | all
};

void print_timing(const char* name, const Timing& t) {
  std::printf("%-12s median %8.2f ms/step (cpu %8.2f ms/step)\n", name, t.wall_ms, t.cpu_ms);
}

Indices random_ids(Shape shape, int64_t n, Rng& rng) {
  std::vector<int64_t> v(shape.numel());
  for (auto& x : v) x = rng.randint(n);
  return Indices(std::move(shape), std::move(v));
}

struct Mlp : Module {
  std::vector<std::shared_ptr<Linear>> layers;
  Mlp(int64_t width, int depth, Rng& rng) {
    for (int i = 0; i < depth; ++i)
      layers.push_back(register_module(std::to_string(i), std::make_shared<Linear>(width, width, rng)));
  }
  Variable forward(Variable x) const {
    for (size_t i = 0; i < layers.size(); ++i) {
      x = layers[i]->forward(x);
      if (i + 1 < layers.size()) x = relu(x);
    }
    return x;
  }
};

// One pre-LN Transformer block: x += Out(attention(LN1(x))); x += FF2(relu(FF1(LN2(x)))).
struct Block : Module {
  std::shared_ptr<LayerNorm> ln1, ln2;
  std::shared_ptr<Linear> qkv, out, ff1, ff2;
  int64_t heads;
  Block(int64_t D, int64_t H, int64_t FF, Rng& rng) : heads(H) {
    ln1 = register_module("ln1", std::make_shared<LayerNorm>(D));
    qkv = register_module("qkv", std::make_shared<Linear>(D, 3 * D, rng));
    out = register_module("out", std::make_shared<Linear>(D, D, rng));
    ln2 = register_module("ln2", std::make_shared<LayerNorm>(D));
    ff1 = register_module("ff1", std::make_shared<Linear>(D, FF, rng));
    ff2 = register_module("ff2", std::make_shared<Linear>(FF, D, rng));
  }
  // x is (B, T, D); causal_mask is (T, T), nonzero above the diagonal.
  Variable forward(const Variable& x, const Tensor& causal_mask) const {
    const int64_t B = x.size(0), T = x.size(1), D = x.size(2), H = heads, Dh = D / H;
    Variable qkv_ = permute(reshape(qkv->forward(ln1->forward(x)), {B, T, 3, H, Dh}), {2, 0, 3, 1, 4});
    std::vector<Variable> parts = split(qkv_, {1, 1, 1}, 0);
    Variable q = reshape(parts[0], {B, H, T, Dh}), k = reshape(parts[1], {B, H, T, Dh});
    Variable v = reshape(parts[2], {B, H, T, Dh});
    Variable scores = matmul(q, k, false, true) * (1.0 / std::sqrt(static_cast<double>(Dh)));
    Variable att = softmax(masked_fill(scores, causal_mask, -INFINITY), -1);  // (B, H, T, T)
    Variable y = reshape(permute(matmul(att, v), {0, 2, 1, 3}), {B, T, D});
    Variable h = x + out->forward(y);
    return h + ff2->forward(relu(ff1->forward(ln2->forward(h))));
  }
};

struct TinyLM : Module {
  std::shared_ptr<Embedding> embed;
  std::shared_ptr<Block> block;
  std::shared_ptr<LayerNorm> ln_f;
  std::shared_ptr<Linear> head;
  TinyLM(int64_t V, int64_t D, int64_t H, int64_t FF, Rng& rng) {
    embed = register_module("embed", std::make_shared<Embedding>(V, D, rng));
    block = register_module("block", std::make_shared<Block>(D, H, FF, rng));
    ln_f = register_module("ln_f", std::make_shared<LayerNorm>(D));
    head = register_module("head", std::make_shared<Linear>(D, V, rng));
  }
  Variable forward(const Indices& ids, const Tensor& mask) const {
    return head->forward(ln_f->forward(block->forward(embed->forward(ids), mask)));
  }
};

void bench_mlp(const Config& c) {
  Rng rng(0);
  Mlp model(512, 4, rng);
  Adam opt(model.parameters(), {.lr = 1e-3});
  Variable x(Tensor::randn({256, 512}, rng));
  Indices y = random_ids({256}, 512, rng);
  print_timing("mlp", time_steps([&] {
    opt.zero_grad();
    backward(cross_entropy(model.forward(x), y));
    opt.step();
  }, c.warmup, c.reps));
}

void bench_transformer(const Config& c) {
  const int64_t B = 8, T = 256, D = 512, H = 8, FF = 2048, V = 4096;
  Rng rng(0);
  TinyLM model(V, D, H, FF, rng);
  Adam opt(model.parameters(), {.lr = 1e-3});
  Indices ids = random_ids({B, T}, V, rng), targets = random_ids({B * T}, V, rng);
  Tensor mask = Tensor::zeros({T, T});
  for (int64_t i = 0; i < T; ++i)
    for (int64_t j = i + 1; j < T; ++j) mask.data<float>()[i * T + j] = 1.0f;
  print_timing("transformer", time_steps([&] {
    opt.zero_grad();
    backward(cross_entropy(reshape(model.forward(ids, mask), {B * T, V}), targets));
    opt.step();
  }, c.warmup, c.reps));
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  CLI::App app{"fwp foundation benchmark: median time of one f32 training step"};
  app.option_defaults()->always_capture_default();  // --help shows every default
  app.add_option("--reps", c.reps, "timed steps")->check(fwp::experiments::count_in(1, 1000000));
  app.add_option("--warmup", c.warmup, "untimed steps first")->check(fwp::experiments::count_in(0, 1000000));
  app.add_option("--which", c.which, "mlp, transformer or all")
      ->check(CLI::IsMember({"mlp", "transformer", "all"}));
  fwp::experiments::one_line_errors(app, "bench_foundation");
  return fwp::experiments::guarded_main("bench_foundation", [&] {
  FWP_CLI_PARSE(app, argc, argv);
  const char* blas_threading[] = {"sequential", "pthreads", "openmp"};
  std::printf("fwp: omp threads %d, %s (%s threading, %d threads), reps %d, warmup %d\n",
              omp_get_max_threads(), openblas_get_config(),
              blas_threading[std::clamp(openblas_get_parallel(), 0, 2)],
              openblas_get_num_threads(), c.reps, c.warmup);
  if (c.which != "transformer") bench_mlp(c);
  if (c.which != "mlp") bench_transformer(c);
  return 0;
  });
}
