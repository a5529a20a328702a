// Encoder-decoder Transformer for translation (docs/THEORY.md section 9.3), post-LN like the
// language model.
//   encoder block:  h <- LN(h + Drop(SelfAttn(h)));  h <- LN(h + Drop(FF(h)))       (non-causal)
//   decoder block:  h <- LN(h + Drop(CausalSelfAttn(h)));  h <- LN(h + Drop(CrossAttn(h, mem)));
//                   h <- LN(h + Drop(FF(h)))
// Encoder self-attention, decoder self-attention and cross-attention each pick their own attention
// config; a fast-weight encoder or cross-attention uses the non-causal sum rule. Source and target
// have separate embeddings; the decoder's output layer is tied to the target embedding.
#pragma once
#include <memory>
#include <vector>

#include "core/indices.h"
#include "layers/attention.h"
#include "layers/layer_norm.h"
#include "layers/transformer.h"

namespace fwp {

struct Seq2SeqConfig {
  int64_t src_vocab = 0, tgt_vocab = 0;
  int64_t d_model = 256, n_encoder_layers = 3, n_decoder_layers = 3, d_ff = 1024;
  double dropout = 0.1;
  double init_std = 0.02;
  AttentionConfig encoder_attention, decoder_attention, cross_attention;
};

class EncoderBlock : public Module {
 public:
  EncoderBlock(const Seq2SeqConfig& c, Rng& rng, uint64_t feature_seed, DType dtype);
  Variable forward(const Variable& h, const Tensor& valid, double p, Rng& rng);

 private:
  std::shared_ptr<SelfAttention> attn_;
  std::shared_ptr<LayerNorm> ln1_, ln2_;
  std::shared_ptr<FeedForward> ff_;
};

class DecoderBlock : public Module {
 public:
  DecoderBlock(const Seq2SeqConfig& c, Rng& rng, uint64_t feature_seed, DType dtype);
  Variable forward(const Variable& h, const Variable& memory, const Tensor& memory_valid,
                   AttentionState* state, CrossAttentionCache* cross_cache, double p, Rng& rng);

 private:
  std::shared_ptr<SelfAttention> self_;
  std::shared_ptr<CrossAttention> cross_;
  std::shared_ptr<LayerNorm> ln1_, ln2_, ln3_;
  std::shared_ptr<FeedForward> ff_;
};

// What the decoder carries while generating one token at a time: per layer the self-attention
// state and the cross-attention's memory part (computed at the first step). Every tensor in it
// is batch-first (rows can be reordered for beam search).
struct DecoderState {
  std::vector<AttentionState> layers;
  std::vector<CrossAttentionCache> cross;
  int64_t length = 0;
};

class Seq2Seq : public Module {
 public:
  Seq2Seq(const Seq2SeqConfig& config, uint64_t seed, DType dtype = DType::f32);
  // src (B, S) token ids, src_valid (B, S) 1 for real tokens -> memory (B, S, D)
  Variable encode(const Indices& src, const Tensor& src_valid);
  // tgt (B, T) -> logits (B, T, V_tgt). With a state: continues decoding from it; the
  // cross-attention's memory part is computed at the first call and kept in the state, so later
  // calls must pass the same memory rows (or rows reordered exactly like the state's).
  Variable decode(const Indices& tgt, const Variable& memory, const Tensor& src_valid,
                  DecoderState* state = nullptr);
  const Seq2SeqConfig& config() const { return config_; }

 private:
  Variable embed(const Variable& table, const Indices& ids, int64_t offset);
  Seq2SeqConfig config_;
  DType dtype_;
  Rng dropout_rng_;
  Variable src_embedding_, tgt_embedding_;
  std::shared_ptr<ModuleList<EncoderBlock>> encoder_;
  std::shared_ptr<ModuleList<DecoderBlock>> decoder_;
};

}  // namespace fwp
