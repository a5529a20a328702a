// Encoder-decoder Transformer: blocks, embeddings with positions, encode and decode.
#include "layers/seq2seq.h"

#include <cmath>

#include "autograd/functions.h"

namespace fwp {

namespace {
std::shared_ptr<LayerNorm> make_ln(int64_t d, DType dtype) {
  return std::make_shared<LayerNorm>(d, LayerNormOptions{.dtype = dtype});
}
}  // namespace

EncoderBlock::EncoderBlock(const Seq2SeqConfig& c, Rng& rng, uint64_t seed, DType dtype) {
  attn_ = register_module("attn", std::make_shared<SelfAttention>(c.d_model, c.encoder_attention,
                                                                   /*causal=*/false, rng, seed, dtype));
  ln1_ = register_module("ln1", make_ln(c.d_model, dtype));
  ff_ = register_module("ff", std::make_shared<FeedForward>(c.d_model, c.d_ff, rng, dtype));
  ln2_ = register_module("ln2", make_ln(c.d_model, dtype));
}

Variable EncoderBlock::forward(const Variable& h, const Tensor& valid, double p, Rng& rng) {
  Variable a = ln1_->forward(h + dropout(attn_->forward(h, nullptr, valid), p, rng, training()));
  return ln2_->forward(a + dropout(ff_->forward(a, p, rng), p, rng, training()));
}

DecoderBlock::DecoderBlock(const Seq2SeqConfig& c, Rng& rng, uint64_t seed, DType dtype) {
  self_ = register_module("self_attn", std::make_shared<SelfAttention>(c.d_model, c.decoder_attention,
                                                                        /*causal=*/true, rng, seed, dtype));
  ln1_ = register_module("ln1", make_ln(c.d_model, dtype));
  cross_ = register_module("cross_attn", std::make_shared<CrossAttention>(c.d_model, c.cross_attention,
                                                                           rng, seed + 1, dtype));
  ln2_ = register_module("ln2", make_ln(c.d_model, dtype));
  ff_ = register_module("ff", std::make_shared<FeedForward>(c.d_model, c.d_ff, rng, dtype));
  ln3_ = register_module("ln3", make_ln(c.d_model, dtype));
}

Variable DecoderBlock::forward(const Variable& h, const Variable& memory, const Tensor& memory_valid,
                               AttentionState* state, CrossAttentionCache* cross_cache, double p,
                               Rng& rng) {
  Variable a = ln1_->forward(h + dropout(self_->forward(h, state), p, rng, training()));
  Variable b = ln2_->forward(
      a + dropout(cross_->forward(a, memory, memory_valid, cross_cache), p, rng, training()));
  return ln3_->forward(b + dropout(ff_->forward(b, p, rng), p, rng, training()));
}

Seq2Seq::Seq2Seq(const Seq2SeqConfig& c, uint64_t seed, DType dtype)
    : config_(c), dtype_(dtype), dropout_rng_(seed + 1) {
  FWP_CHECK(c.src_vocab > 0 && c.tgt_vocab > 0 && c.d_model > 0 && c.n_encoder_layers > 0 &&
                c.n_decoder_layers > 0,
            "Seq2Seq: sizes must be positive, got src V=", c.src_vocab, " tgt V=", c.tgt_vocab,
            " D=", c.d_model, " layers=", c.n_encoder_layers, "+", c.n_decoder_layers);
  FWP_CHECK(c.dropout >= 0.0 && c.dropout < 1.0, "Seq2Seq: dropout must be in [0, 1), got ", c.dropout);
  Rng rng(seed);
  register_rng("dropout_rng", &dropout_rng_);
  // two tables, drawn by init_transformer_weights below; the output layer reuses tgt_embedding
  src_embedding_ = register_parameter(
      "src_embedding", Tensor::zeros({c.src_vocab, c.d_model}, dtype), ParamInit::weight);
  tgt_embedding_ = register_parameter(
      "tgt_embedding", Tensor::zeros({c.tgt_vocab, c.d_model}, dtype), ParamInit::weight);
  encoder_ = register_module("encoder", std::make_shared<ModuleList<EncoderBlock>>());
  decoder_ = register_module("decoder", std::make_shared<ModuleList<DecoderBlock>>());
  for (int64_t l = 0; l < c.n_encoder_layers; ++l)
    encoder_->add(std::make_shared<EncoderBlock>(c, rng, seed + 1000 + l, dtype));
  for (int64_t l = 0; l < c.n_decoder_layers; ++l)
    decoder_->add(std::make_shared<DecoderBlock>(c, rng, seed + 2000 + 2 * l, dtype));
  init_transformer_weights(*this, c.init_std, rng);
}

Variable Seq2Seq::embed(const Variable& table, const Indices& ids, int64_t offset) {
  FWP_CHECK_SHAPE(ids.shape.dim() == 2, "Seq2Seq: token ids must be (B, T), got ", ids.shape);
  const int64_t V = table.size(0), D = config_.d_model;
  for (int64_t id : ids.values)
    FWP_CHECK(id >= 0 && id < V, "Seq2Seq: token id ", id, " is outside the vocabulary [0, ", V, ")");
  Variable h = embedding(table, ids) * std::sqrt(double(D));
  h = h + Variable(sinusoidal_positions(ids.shape[1], D, offset, dtype_).to(h.value().device()));
  return dropout(h, config_.dropout, dropout_rng_, training());
}

Variable Seq2Seq::encode(const Indices& src, const Tensor& src_valid) {
  Variable h = embed(src_embedding_, src, 0);
  for (size_t l = 0; l < encoder_->size(); ++l)
    h = (*encoder_)[l].forward(h, src_valid, config_.dropout, dropout_rng_);
  return h;
}

Variable Seq2Seq::decode(const Indices& tgt, const Variable& memory, const Tensor& src_valid,
                         DecoderState* state) {
  if (state && state->layers.empty()) {
    state->layers.resize(decoder_->size());
    state->cross.resize(decoder_->size());
  }
  Variable h = embed(tgt_embedding_, tgt, state ? state->length : 0);
  for (size_t l = 0; l < decoder_->size(); ++l)
    h = (*decoder_)[l].forward(h, memory, src_valid, state ? &state->layers[l] : nullptr,
                               state ? &state->cross[l] : nullptr, config_.dropout, dropout_rng_);
  if (state) state->length += tgt.shape[1];
  return matmul(h, tgt_embedding_, false, true);
}

}  // namespace fwp
