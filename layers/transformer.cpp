// The language model: embedding -> N post-LN blocks -> tied output layer; and generation.
#include "layers/transformer.h"

#include <cmath>

#include "autograd/functions.h"
#include "core/functional.h"

namespace fwp {

FeedForward::FeedForward(int64_t d_model, int64_t d_ff, Rng& rng, DType dtype) {
  w1_ = register_module("w1", std::make_shared<Linear>(d_model, d_ff, rng, LinearOptions{.dtype = dtype}));
  w2_ = register_module("w2", std::make_shared<Linear>(d_ff, d_model, rng, LinearOptions{.dtype = dtype}));
}

Variable FeedForward::forward(const Variable& x, double p, Rng& rng) const {
  return w2_->forward(dropout(relu(w1_->forward(x)), p, rng, training()));
}

TransformerBlock::TransformerBlock(int64_t d_model, int64_t d_ff, const AttentionConfig& attention,
                                   Rng& rng, uint64_t feature_seed, DType dtype) {
  attn_ = register_module("attn", std::make_shared<SelfAttention>(d_model, attention, /*causal=*/true,
                                                                   rng, feature_seed, dtype));
  ln1_ = register_module("ln1", std::make_shared<LayerNorm>(d_model, LayerNormOptions{.dtype = dtype}));
  ff_ = register_module("ff", std::make_shared<FeedForward>(d_model, d_ff, rng, dtype));
  ln2_ = register_module("ln2", std::make_shared<LayerNorm>(d_model, LayerNormOptions{.dtype = dtype}));
}

Variable TransformerBlock::forward(const Variable& h, AttentionState* state, double p, Rng& rng) {
  Variable a = ln1_->forward(h + dropout(attn_->forward(h, state), p, rng, training()));
  return ln2_->forward(a + dropout(ff_->forward(a, p, rng), p, rng, training()));
}

void LMState::detach() {
  for (AttentionState& s : layers) s.detach();
}

void init_transformer_weights(Module& module, double std, Rng& rng) {
  FWP_CHECK(std >= 0.0, "init_transformer_weights: std must be >= 0, got ", std);
  NoGradGuard no_grad;
  for (NamedParameter& p : module.parameter_table()) {
    Tensor& value = p.value.mutable_value();
    switch (p.init) {
      case ParamInit::weight:
        value.copy_(Tensor::randn(value.shape(), rng, value.dtype(), 0.0, std));
        break;
      case ParamInit::zeros: value.fill_(0.0); break;
      case ParamInit::ones: value.fill_(1.0); break;
      case ParamInit::own: break;  // the layer's own value is the initialisation
    }
  }
}

TransformerLM::TransformerLM(const LMConfig& c, uint64_t seed, DType dtype)
    : config_(c), dtype_(dtype), dropout_rng_(seed + 1) {
  FWP_CHECK(c.vocab_size > 0 && c.d_model > 0 && c.n_layers > 0 && c.d_ff > 0,
            "TransformerLM: sizes must be positive, got V=", c.vocab_size, " D=", c.d_model,
            " layers=", c.n_layers, " FF=", c.d_ff);
  FWP_CHECK(c.dropout >= 0.0 && c.dropout < 1.0, "TransformerLM: dropout must be in [0, 1), got ",
            c.dropout);
  Rng rng(seed);
  register_rng("dropout_rng", &dropout_rng_);
  embedding_ = register_parameter("embedding", Tensor::zeros({c.vocab_size, c.d_model}, dtype),
                                  ParamInit::weight);
  layers_ = register_module("layers", std::make_shared<ModuleList<TransformerBlock>>());
  for (int64_t l = 0; l < c.n_layers; ++l)
    layers_->add(std::make_shared<TransformerBlock>(c.d_model, c.d_ff, c.attention, rng,
                                                    seed + 1000 + l, dtype));
  init_transformer_weights(*this, c.init_std, rng);
}

Variable TransformerLM::forward(const Indices& tokens, LMState* state) {
  FWP_CHECK_SHAPE(tokens.shape.dim() == 2, "TransformerLM: tokens must be (B, T), got ", tokens.shape);
  for (int64_t id : tokens.values)
    FWP_CHECK(id >= 0 && id < config_.vocab_size, "TransformerLM: token id ", id,
              " is outside the vocabulary [0, ", config_.vocab_size, ")");
  const int64_t T = tokens.shape[1], D = config_.d_model;
  if (state && state->layers.empty()) state->layers.resize(layers_->size());
  const int64_t offset = state ? state->length : 0;
  Variable h = embedding(embedding_, tokens) * std::sqrt(double(D));  // (B, T, D)
  if (config_.positional)
    h = h + Variable(sinusoidal_positions(T, D, offset, dtype_).to(h.value().device()));
  h = dropout(h, config_.dropout, dropout_rng_, training());
  for (size_t l = 0; l < layers_->size(); ++l)
    h = (*layers_)[l].forward(h, state ? &state->layers[l] : nullptr, config_.dropout, dropout_rng_);
  if (state) state->length += T;
  return matmul(h, embedding_, false, true);  // tied output layer: (B, T, V)
}

int64_t sample_token(const Tensor& logits, double temperature, Rng& rng) {
  std::vector<double> l = logits.to_vector();
  int64_t best = 0;
  for (size_t i = 1; i < l.size(); ++i)
    if (l[i] > l[best]) best = static_cast<int64_t>(i);
  if (temperature <= 0.0) return best;
  double total = 0.0;
  for (double& x : l) total += (x = std::exp((x - l[best]) / temperature));
  double u = rng.uniform() * total;
  for (size_t i = 0; i < l.size(); ++i)
    if ((u -= l[i]) <= 0.0) return static_cast<int64_t>(i);
  return static_cast<int64_t>(l.size()) - 1;
}

std::vector<int64_t> TransformerLM::generate(const std::vector<int64_t>& prompt, int64_t n_new,
                                             Rng& rng, double temperature) {
  FWP_CHECK(!prompt.empty(), "TransformerLM::generate: the prompt must not be empty");
  NoGradGuard no_grad;
  LMState state;
  std::vector<int64_t> out = prompt;
  Variable logits = forward(Indices({1, int64_t(prompt.size())}, prompt), &state);
  for (int64_t i = 0; i < n_new; ++i) {
    const int64_t T = logits.size(1), V = config_.vocab_size;
    Tensor last = slice(logits.value(), 1, T - 1, T).reshape({V});
    int64_t next = sample_token(last, temperature, rng);
    out.push_back(next);
    if (i + 1 < n_new) logits = forward(Indices({1, 1}, {next}), &state);
  }
  return out;
}

}  // namespace fwp
