// Feature maps phi: R^Dk -> R^Ddot, the "kernels" of linear attention (docs/THEORY.md section 3).
//   Linear  (Katharopoulos et al. 2020):  phi(x) = elu(x) + 1,                          Ddot = Dk
//   FAVOR+  (Choromanski et al. 2021):    phi(x) = exp([W x, -W x] - |x|^2/2) / sqrt(2m), Ddot = 2m
//   DPFP-nu (Schlag et al. 2021):         r = relu([x, -x]);  phi = [r*roll(r,1), .., r*roll(r,nu)],
//                                          Ddot = 2 Dk nu
//   tanh    (the FWM baseline):           phi(x) = tanh(x),                             Ddot = Dk
// All act on the last dimension and are built from differentiable ops, so autograd handles them.
#pragma once
#include <string>

#include "layers/module.h"

namespace fwp {

enum class FeatureMapKind { identity, linear, favor, dpfp, tanh };
// When FAVOR+ draws new random features: at every forward; at training forwards only (the last
// training draw is kept for evaluation, as in the authors' LM code); or once (fixed by the seed).
enum class FavorRedraw { every_forward, training_only, fixed };

struct FeatureMapConfig {
  FeatureMapKind kind = FeatureMapKind::linear;
  int64_t nu = 1;          // DPFP: number of rolls
  int64_t m = 64;          // FAVOR+: number of random features (Ddot = 2m)
  FavorRedraw redraw = FavorRedraw::every_forward;
  double favor_eps = 0.0;  // added inside phi (the LM code uses 1e-4; the synthetic code 0)
};

int64_t feature_dim(const FeatureMapConfig& config, int64_t d_key);  // Ddot
std::string to_string(FeatureMapKind kind);
FeatureMapKind feature_map_kind_from_string(const std::string& name);
std::string to_string(FavorRedraw redraw);
FavorRedraw favor_redraw_from_string(const std::string& name);

// The maps themselves, over the last dim of x. DPFP's and FAVOR+'s fused ops are fwp::dpfp and
// fwp::favor_plus (autograd/functions.h); the *_reference versions compose the same maps from
// autograd primitives (relu/concat/slice/mul; matmul/square/sum/exp/neg/sub/concat).
Variable elu_plus_one(const Variable& x);
Variable dpfp_reference(const Variable& x, int64_t nu);
// omega is (Dk, m): column j is the random direction w_j. Computed in log space:
// exp(+-w_j.x - |x|^2/2 - log(2m)/2) never overflows before the exponent is formed.
Variable favor_plus_reference(const Variable& x, const Tensor& omega, double eps = 0.0);
// m directions in blocks of Dk orthonormal columns (QR of a Gaussian Dk x Dk matrix), each
// scaled by the length of an independent Gaussian vector (chi distribution with Dk dof).
Tensor favor_projection(int64_t d_key, int64_t m, Rng& rng, DType dtype);

// A feature map with its state: FAVOR+'s current random projection (a checkpointed buffer)
// and the Rng that redraws it. Call begin_forward() once per layer forward, before phi(q) and
// phi(k), so that queries and keys of one forward share one draw.
class FeatureMap : public Module {
 public:
  FeatureMap(const FeatureMapConfig& config, int64_t d_key, uint64_t seed, DType dtype = DType::f32);
  void begin_forward();
  Variable forward(const Variable& x) const;
  int64_t out_dim() const { return feature_dim(config_, d_key_); }
  const FeatureMapConfig& config() const { return config_; }
  const Tensor& omega() const { return omega_; }

 private:
  FeatureMapConfig config_;
  int64_t d_key_;
  DType dtype_;
  Rng rng_;
  Tensor omega_;  // (Dk, m) for FAVOR+, undefined otherwise
};

// Sum normalisation: x / (sum_i x_i + eps) over the last dim (docs/THEORY.md section 4). With
// phi >= 0 the result lies on the simplex. The authors' code divides without eps; an all-zero
// DPFP vector then gives NaN, so we add eps (1e-6 by default) to the denominator.
Variable sum_normalize(const Variable& x, double eps = 1e-6);

}  // namespace fwp
