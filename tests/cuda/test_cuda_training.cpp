// Whole pieces of training on the device against the CPU: the fused fast-weight and attention
// ops through autograd (values and gradients of every input), the optimizers and clipping, and
// one full training step (forward, cross-entropy, backward, clipping, Adam) of a tiny language
// model of every attention preset and of a tiny translation model.
#include <functional>
#include <vector>

#include "autograd/delta_product_op.h"
#include "autograd/fast_weight_op.h"
#include "autograd/functions.h"
#include "autograd/fwm_rule_op.h"
#include "autograd/gated_delta_rule_op.h"
#include "autograd/softmax_attention_op.h"
#include "autograd/tape.h"
#include "core/functional.h"
#include "layers/fast_weight_rules.h"
#include "layers/seq2seq.h"
#include "layers/transformer.h"
#include "optim/optimizer.h"
#include "tests/cuda/cuda_test.h"

using namespace fwp;
using fwp_test::check_close;
using fwp_test::HasSubstr;

namespace {

using Fn = std::function<Variable(const std::vector<Variable>&)>;

// Runs f on leaves made from `inputs` on the CPU and on the GPU; compares the outputs and the
// gradients of sum(output * r) with respect to every leaf.
void check_op(const std::vector<Tensor>& inputs, const Fn& f, double tol, const char* what) {
  INFO(what);
  std::vector<Variable> c, g;
  for (const Tensor& t : inputs) {
    c.emplace_back(t.clone(), true);
    g.emplace_back(t.to(Device::cuda), true);
  }
  Variable yc = f(c), yg = f(g);
  CHECK(yg.value().device() == Device::cuda);
  check_close(yg.value(), yc.value(), tol, "output");
  Rng rng(3);
  Tensor r = Tensor::randn(yc.shape(), rng, yc.dtype());
  backward(sum(yc * Variable(r)));
  backward(sum(yg * Variable(r.to(Device::cuda))));
  for (size_t i = 0; i < c.size(); ++i) {
    INFO("gradient of input " << i);
    REQUIRE(g[i].has_grad());
    CHECK(g[i].grad().device() == Device::cuda);
    check_close(g[i].grad(), c[i].grad(), tol, "gradient");
  }
}

// (B, H, T, D) keys that sum to one, like the models' sum-normalised ones.
Tensor keys(int64_t B, int64_t H, int64_t T, int64_t D, Rng& rng) {
  Tensor x = Tensor::uniform({B, H, T, D}, rng, 0.1, 1.0);
  return div(x, sum(x, {3}, true));
}

}  // namespace

TEST_CASE("cuda: the fused fast-weight ops and softmax attention through autograd", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Rng rng(71);
  const int64_t B = 1, H = 3, T = 5, Dk = 3, Dv = 5;
  Tensor q = keys(B, H, T, Dk, rng), k = keys(B, H, T, Dk, rng);
  Tensor v = Tensor::randn({B, H, T, Dv}, rng);
  Tensor beta = Tensor::uniform({B, H, T}, rng, 0.1, 0.9);
  Tensor alpha = Tensor::uniform({B, H, T}, rng, 0.5, 0.99);
  Tensor W0 = Tensor::randn({B, H, Dv, Dk}, rng, DType::f32, 0.0, 0.3);
  const double tol = 2e-5;
  // y and W_T both feed the loss: concatenated along the rows
  auto both = [](const Variable& y, const Variable& W) {
    return concat({reshape(y, {-1}), reshape(W, {-1})}, 0);
  };
  check_op({q, k, v, beta, W0}, [&](const std::vector<Variable>& a) {
    DeltaRuleResult r = delta_rule(a[0], a[1], a[2], a[3], a[4]);
    return both(r.y, r.state);
  }, tol, "delta_rule");
  check_op({q, k, v}, [&](const std::vector<Variable>& a) {
    SumRuleResult r = sum_rule(a[0], a[1], a[2], true, 1e-6);
    return both(r.y, r.state);
  }, tol, "sum_rule, normalised");
  check_op({q, k, v, beta, alpha, W0}, [&](const std::vector<Variable>& a) {
    GatedDeltaRuleResult r = gated_delta_rule(a[0], a[1], a[2], a[3], a[4], a[5]);
    return both(r.y, r.state);
  }, tol, "gated_delta_rule");
  // DeltaProduct: n_h = 3 writes per token, with W0, and write only (no q: W_T alone)
  Tensor k3 = keys(B, H, 3 * T, Dk, rng), v3 = Tensor::randn({B, H, 3 * T, Dv}, rng);
  Tensor b3 = Tensor::uniform({B, H, 3 * T}, rng, 0.1, 0.9);
  check_op({q, k3, v3, b3, W0}, [&](const std::vector<Variable>& a) {
    DeltaProductResult r = delta_product(a[0], a[1], a[2], a[3], 3, a[4]);
    return both(r.y, r.state);
  }, tol, "delta_product, n_h = 3, with W0");
  check_op({k3, v3, b3}, [&](const std::vector<Variable>& a) {
    return reshape(delta_product(Variable(), a[0], a[1], a[2], 3).state, {-1});
  }, tol, "delta_product, write only");
  Tensor kv = Tensor::randn({B, H, 17, Dk}, rng), vv = Tensor::randn({B, H, 17, Dv}, rng);
  Tensor valid = Tensor::ones({B, 17});
  valid.fill_(1.0);
  check_op({Tensor::randn({B, H, T, Dk}, rng), kv, vv}, [&](const std::vector<Variable>& a) {
    return fused_softmax_attention(a[0], a[1], a[2], true, 12, valid);  // a host mask
  }, tol, "fused_softmax_attention, causal with an offset");
  // a rule without CUDA kernels says so, naming the device
  std::vector<Variable> g;
  for (const Tensor& t : {q, k, v, beta}) g.emplace_back(t.to(Device::cuda));
  CHECK_THROWS_WITH(fwm_rule(g[0], g[1], g[2], g[3]), HasSubstr("must be on the cpu, got device cuda"));
}

TEST_CASE("cuda: SGD, Adam, AdamW and clip_grad_norm_ update like on the CPU", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Rng rng(73);
  for (int kind = 0; kind < 3; ++kind) {
    INFO("optimizer " << kind);
    std::vector<Tensor> init = {Tensor::randn({17, 5}, rng), Tensor::randn({1}, rng),
                                Tensor::randn({33}, rng)};
    std::vector<Variable> pc, pg;
    for (const Tensor& t : init) {
      pc.emplace_back(t.clone(), true);
      pg.emplace_back(t.to(Device::cuda), true);
    }
    auto make = [&](std::vector<Variable> p) -> std::unique_ptr<Optimizer> {
      if (kind == 0) return std::make_unique<SGD>(p, SGDOptions{0.1, 0.9, 0.01});
      AdamOptions o;
      o.lr = 0.01;
      o.weight_decay = 0.1;
      if (kind == 1) return std::make_unique<Adam>(p, o);
      return std::make_unique<AdamW>(p, o);
    };
    auto oc = make(pc), og = make(pg);
    for (int step = 0; step < 3; ++step) {
      for (size_t i = 0; i < init.size(); ++i) {
        Tensor grad = Tensor::randn(init[i].shape(), rng, DType::f32, 0.0, 3.0);
        // the gradient, accumulated by autograd as a training step does
        backward(sum(pc[i] * Variable(grad)));
        backward(sum(pg[i] * Variable(grad.to(Device::cuda))));
      }
      const double nc = clip_grad_norm_(pc, 1.5), ng = clip_grad_norm_(pg, 1.5);
      CHECK(ng == Approx(nc).epsilon(1e-6));
      oc->step();
      og->step();
      oc->zero_grad();
      og->zero_grad();
    }
    for (size_t i = 0; i < init.size(); ++i) {
      CHECK(pg[i].value().device() == Device::cuda);
      check_close(pg[i].value(), pc[i].value(), 1e-6, "parameter after three steps");
    }
  }
}

namespace {

// One training step on `model`'s device: forward, loss, backward, clipping, Adam. Returns the
// loss and the gradient norm; leaves the updated parameters in the model.
template <typename Forward>
std::pair<double, double> train_step(Module& model, Adam& adam, Forward forward,
                                     const Indices& targets) {
  Variable logits = forward();
  Variable loss = cross_entropy(logits, targets);
  const double value = loss.value().item();  // the logged scalar
  adam.zero_grad();
  backward(loss);
  const double norm = clip_grad_norm_(adam.params(), 0.5);
  adam.step();
  (void)model;
  return {value, norm};
}

void check_models(Module& cpu, Module& gpu, const char* what) {
  INFO(what);
  auto a = cpu.named_parameters(), b = gpu.named_parameters();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(b[i].second.value().device() == Device::cuda);
    check_close(b[i].second.value(), a[i].second.value(), 1e-5, a[i].first);
  }
}

}  // namespace

TEST_CASE("cuda: a training step of a tiny LM, every attention preset, matches the CPU", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Indices tokens({2, 5}, {1, 4, 16, 3, 3, 0, 9, 2, 11, 7});
  Indices targets({2, 5}, {4, 16, 3, 3, 8, 9, 2, 11, 7, 5});
  for (const char* preset : {"softmax", "linear", "delta", "dpfp_delta", "performer",
                             "gated_delta"}) {
    INFO("preset " << preset);
    LMConfig c;
    c.vocab_size = 17;
    c.d_model = 6;
    c.n_layers = 1;
    c.d_ff = 5;
    c.dropout = 0.25;  // the same counter-based masks on both devices
    c.attention = AttentionConfig::preset(preset, 2, 3);
    TransformerLM cpu(c, 7), gpu(c, 7);
    Rng init_a(9), init_b(9);
    init_transformer_weights(cpu, 0.3, init_a);
    init_transformer_weights(gpu, 0.3, init_b);
    gpu.to(Device::cuda);
    Adam adam_c(cpu.parameters(), AdamOptions{}), adam_g(gpu.parameters(), AdamOptions{});
    for (int step = 0; step < 2; ++step) {
      auto [lc, nc] = train_step(cpu, adam_c, [&] { return cpu.forward(tokens); }, targets);
      auto [lg, ng] = train_step(gpu, adam_g, [&] { return gpu.forward(tokens); }, targets);
      CHECK(lg == Approx(lc).epsilon(1e-5));
      CHECK(ng == Approx(nc).epsilon(1e-4));
    }
    check_models(cpu, gpu, "parameters after two steps");
  }
}

TEST_CASE("cuda: a training step of a tiny translation model matches the CPU", "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Seq2SeqConfig c;
  c.src_vocab = 11;
  c.tgt_vocab = 13;
  c.d_model = 6;
  c.n_encoder_layers = c.n_decoder_layers = 1;
  c.d_ff = 5;
  c.dropout = 0.2;
  c.encoder_attention = AttentionConfig::preset("dpfp", 2, 3);
  c.decoder_attention = AttentionConfig::preset("delta", 2, 3);
  c.cross_attention = AttentionConfig::preset("softmax", 2, 3);
  Seq2Seq cpu(c, 5), gpu(c, 5);
  gpu.to(Device::cuda);
  Indices src({2, 3}, {1, 2, 3, 4, 5, 0}), tgt({2, 4}, {1, 5, 7, 12, 1, 2, 3, 4});
  Indices out({2, 4}, {5, 7, 12, 2, 2, 3, 4, -100});
  Tensor valid = Tensor::from_vector({1, 1, 1, 1, 1, 0}, {2, 3});  // on the host, as loaded
  Adam adam_c(cpu.parameters(), AdamOptions{}), adam_g(gpu.parameters(), AdamOptions{});
  auto [lc, nc] = train_step(cpu, adam_c, [&] {
    return cpu.decode(tgt, cpu.encode(src, valid), valid);
  }, out);
  auto [lg, ng] = train_step(gpu, adam_g, [&] {
    return gpu.decode(tgt, gpu.encode(src, valid), valid);
  }, out);
  CHECK(lg == Approx(lc).epsilon(1e-5));
  CHECK(ng == Approx(nc).epsilon(1e-4));
  check_models(cpu, gpu, "parameters after one step");
}

TEST_CASE("cuda: every rule the table marks cuda runs its fused op on the GPU; the others say no",
          "[cuda]") {
  FWP_CUDA_OR_SKIP();
  Rng rng(79);
  const int64_t B = 1, H = 2, T = 3, D = 3, Dv = 5;
  for (const FastWeightRule& rule : fast_weight_rules()) {
    INFO("rule " << rule.name << " (kernels: " << rule.kernels << ")");
    const int64_t n = T * rule.writes;
    std::vector<Tensor> inputs = {keys(B, H, T, D, rng), keys(B, H, n, D, rng),
                                  Tensor::randn({B, H, n, Dv}, rng)};
    for (const RuleGate& g : rule.gates())
      inputs.push_back(Tensor::uniform({B, H, g.per_write ? n : T}, rng, 0.3, 0.9));
    auto call = [&rule](const std::vector<Variable>& a) {
      RuleArgs args;
      args.q = a[0];
      args.k = a[1];
      args.v = a[2];
      args.gates.assign(a.begin() + 3, a.end());
      RuleResult r = rule.fused(args);
      return concat({reshape(r.y, {-1}), reshape(r.state, {-1})}, 0);
    };
    if (rule.cuda) {
      check_op(inputs, call, 2e-5, rule.name);
    } else {
      std::vector<Variable> g;
      for (const Tensor& t : inputs) g.emplace_back(t.to(Device::cuda));
      CHECK_THROWS_WITH(call(g), HasSubstr("got device cuda"));
    }
  }
}
