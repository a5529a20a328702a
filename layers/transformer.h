// The paper's Transformer language model (docs/THEORY.md section 9.2): post-LayerNorm blocks
//   h <- LN(h + Drop(Attn(h)));   h <- LN(h + Drop(W2 Drop(relu(W1 h))))
// on top of  h = Drop(emb(x) * sqrt(D) + positions), with the output layer tied to the input
// embedding (logits = h E^T). Any attention of the family in layers/attention.h.
// Weights start from N(0, 0.02^2), biases from 0, LayerNorms from (1, 0).
// forward() with an LMState continues from the previous segment ("carry over") or, one token at
// a time, generates recurrently: fast-weight layers carry only W (O(1) memory per token).
#pragma once
#include <memory>
#include <vector>

#include "core/indices.h"
#include "layers/attention.h"
#include "layers/layer_norm.h"

namespace fwp {

// The defaults are the paper's small model (16 layers, D = 128, FF 2048, dropout 0.1; heads in
// AttentionConfig): what fwp-lm trains unless told otherwise, and where its --help reads them.
struct LMConfig {
  int64_t vocab_size = 0;
  int64_t d_model = 128;
  int64_t n_layers = 16;
  int64_t d_ff = 2048;
  double dropout = 0.1;
  bool positional = true;   // sinusoidal positions (off: the fast weights must find positions)
  double init_std = 0.02;
  AttentionConfig attention;
};

// Position-wise feed-forward: W2 Drop(relu(W1 x + b1)) + b2.
class FeedForward : public Module {
 public:
  FeedForward(int64_t d_model, int64_t d_ff, Rng& rng, DType dtype);
  Variable forward(const Variable& x, double dropout, Rng& rng) const;

 private:
  std::shared_ptr<Linear> w1_, w2_;
};

// One post-LN block: self-attention (causal) and feed-forward, each with residual + LayerNorm.
class TransformerBlock : public Module {
 public:
  TransformerBlock(int64_t d_model, int64_t d_ff, const AttentionConfig& attention, Rng& rng,
                   uint64_t feature_seed, DType dtype);
  Variable forward(const Variable& h, AttentionState* state, double dropout, Rng& rng);

 private:
  std::shared_ptr<SelfAttention> attn_;
  std::shared_ptr<LayerNorm> ln1_, ln2_;
  std::shared_ptr<FeedForward> ff_;
};

struct LMState {
  std::vector<AttentionState> layers;
  int64_t length = 0;  // tokens consumed so far (the position offset)
  void detach();       // stop gradients at the segment boundary
};

class TransformerLM : public Module {
 public:
  TransformerLM(const LMConfig& config, uint64_t seed, DType dtype = DType::f32);
  // tokens (B, T) -> logits (B, T, V). A state continues from and is updated to the last token.
  Variable forward(const Indices& tokens, LMState* state = nullptr);
  // Greedy (temperature 0) or sampled continuation of `prompt`, run recurrently with a state.
  std::vector<int64_t> generate(const std::vector<int64_t>& prompt, int64_t n_new, Rng& rng,
                                double temperature = 1.0);
  const LMConfig& config() const { return config_; }

 private:
  LMConfig config_;
  DType dtype_;
  Rng dropout_rng_;
  Variable embedding_;  // (V, D), also the output layer
  std::shared_ptr<ModuleList<TransformerBlock>> layers_;
};

// The init of the paper's LM code, applied as each parameter declares (ParamInit, layers/module.h):
// N(0, std^2) for every `weight` (matrices and embeddings), 0 for every `zeros` (biases), 1 for
// every `ones` (LayerNorm gains); an `own` parameter (e.g. alpha_bias) keeps its layer's value.
// Draws in parameter order, so the same seed gives the same model.
void init_transformer_weights(Module& module, double std, Rng& rng);

// Draws a token from logits (V): argmax when temperature == 0, else softmax(logits / temperature).
int64_t sample_token(const Tensor& logits, double temperature, Rng& rng);

}  // namespace fwp
