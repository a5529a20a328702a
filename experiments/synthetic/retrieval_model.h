// The one-layer retrieval model of the synthetic experiments (docs/THEORY.md section 9.1), as in
// the authors' code: no feed-forward, no LayerNorm (except FWM's read-out), no output projection.
//   x_t = [onehot(v_t); emb(k_t)]                    emb: (2S, e), e = int(2S * 1.1), N(0, 1)
//   k_t = phi(W_k x_t + b_k),  q = phi(W_q emb(query) + b_q),  beta_t = sigmoid(W_b x_t + b_b)
//   value v_t = onehot(v_t) (Dv = S, fixed), read-out yhat in R^S, loss 1/2 |onehot(target) - yhat|^2
// The update rule (layers/fast_weight_rules.h; in the config names by its short name) decides how
// the (k_t, v_t) pairs are written into the fast weights W and read:
//   sum     W = sum_t v_t k_t^T,  yhat = W q / (z . q + eps),  z = sum_t k_t
//   delta   W_t = W_{t-1} + beta_t (v_t - W_{t-1} k_t) k_t^T  (k, q sum-normalised),  yhat = W_L q
//   fwm     W_t = clamp(W_{t-1} + beta_t (v_t - W_{t-1} k_t) k_t^T), clamp(W) = W / max(1, |W|_F)
//           (no clamp at t = 1, as the authors' code), yhat = LayerNorm(W_L q) without affine
//   gdelta  the gated delta rule (Yang et al., ICLR 2025): W_t = alpha_t (W_{t-1} - beta_t
//           (W_{t-1} k_t) k_t^T) + beta_t v_t k_t^T, alpha_t = sigmoid(W_a x_t + b_a); as delta
//   softmax yhat = sum_t softmax_t(k_t . q / sqrt(Dk)) v_t   (k, q without phi)
// Every rule but sum and softmax goes through its descriptor: one projection per gate (beta_t,
// alpha_t, ..), the fused op writing all pairs, W_L q read once, the rule's read-out. A rule with
// n writes per token gets n keys (and gates) per token, k_{t,j} = phi(W_k^j x_t + b_k^j), and
// writes v_t with each.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "experiments/synthetic/retrieval_data.h"
#include "layers/fast_weight_rules.h"
#include "layers/feature_maps.h"
#include "layers/linear.h"

namespace fwp::synthetic {

struct ModelConfig {
  int64_t S = 20;          // number of keys = number of values = Dv
  int64_t d_key = 64;      // Dk, the width before phi
  bool softmax = false;    // the softmax baseline instead of fast weights
  UpdateRule rule = UpdateRule::sum;  // ignored by softmax
  FeatureMapConfig phi;    // ignored by softmax
  double eps = 1e-6;       // attention-normalisation and sum-normalisation guard
  int64_t embedding_size() const { return static_cast<int64_t>(2.0 * S * 1.1); }
};

// The names fwp-synthetic's --rule takes: every rule's short name, then "softmax"; and setting
// a config's rule (or softmax) from one of them.
std::vector<std::string> rule_names();
void set_rule(ModelConfig& config, const std::string& name);
// A short name for a configuration, e.g. "dpfp2_delta", "favor64_sum", "softmax", and back:
// "<phi>[nu or m]_<rule>" with phi in linear, dpfp<nu>, favor<m>, tanh, identity.
std::string config_name(const ModelConfig& config);
ModelConfig config_from_name(const std::string& name, int64_t S);

class RetrievalModel : public Module {
 public:
  RetrievalModel(const ModelConfig& config, Rng& init_rng, uint64_t feature_seed,
                 DType dtype = DType::f32);
  Variable forward(const RetrievalBatch& batch);            // yhat: (B, S)
  // The same model written plainly: x_t built as [onehot(v_t); emb(k_t)], W formed explicitly,
  // every rule through its composed reference op. Slow; the tests compare it with forward().
  Variable forward_reference(const RetrievalBatch& batch);
  Variable loss(const Variable& yhat, const Indices& target) const;
  const ModelConfig& config() const { return config_; }

 private:
  Variable project_pairs(const Linear& proj, const RetrievalBatch& batch) const;
  ModelConfig config_;
  DType dtype_;
  Variable embedding_;  // (2S, e)
  std::shared_ptr<Linear> key_, query_;
  std::vector<std::shared_ptr<Linear>> gates_;  // one per gate of the rule: "beta", "alpha", ..
  std::shared_ptr<FeatureMap> phi_;
};

}  // namespace fwp::synthetic
