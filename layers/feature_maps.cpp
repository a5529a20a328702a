// Feature maps as compositions of autograd ops, and FAVOR+'s random projections.
#include "layers/feature_maps.h"

#include <cmath>

#include "autograd/functions.h"
#include "core/functional.h"
#include "core/linalg.h"

namespace fwp {

int64_t feature_dim(const FeatureMapConfig& c, int64_t d_key) {
  switch (c.kind) {
    case FeatureMapKind::favor: return 2 * c.m;
    case FeatureMapKind::dpfp: return 2 * d_key * c.nu;
    default: return d_key;
  }
}

std::string to_string(FeatureMapKind kind) {
  switch (kind) {
    case FeatureMapKind::identity: return "identity";
    case FeatureMapKind::linear: return "linear";
    case FeatureMapKind::favor: return "favor";
    case FeatureMapKind::dpfp: return "dpfp";
    case FeatureMapKind::tanh: return "tanh";
  }
  return "?";
}

FeatureMapKind feature_map_kind_from_string(const std::string& name) {
  for (auto k : {FeatureMapKind::identity, FeatureMapKind::linear, FeatureMapKind::favor,
                 FeatureMapKind::dpfp, FeatureMapKind::tanh})
    if (to_string(k) == name) return k;
  throw Error(cat("unknown feature map '", name, "' (expected identity, linear, favor, dpfp or tanh)"));
}

std::string to_string(FavorRedraw r) {
  switch (r) {
    case FavorRedraw::every_forward: return "every_forward";
    case FavorRedraw::training_only: return "training_only";
    case FavorRedraw::fixed: return "fixed";
  }
  return "?";
}

FavorRedraw favor_redraw_from_string(const std::string& name) {
  for (auto r : {FavorRedraw::every_forward, FavorRedraw::training_only, FavorRedraw::fixed})
    if (to_string(r) == name) return r;
  throw Error(cat("unknown FAVOR+ redraw policy '", name,
                  "' (expected every_forward, training_only or fixed)"));
}

Variable elu_plus_one(const Variable& x) { return elu(x) + 1.0; }

Variable dpfp_reference(const Variable& x, int64_t nu) {
  const int64_t n = 2 * x.size(-1);
  FWP_CHECK(nu >= 1 && nu < n, "dpfp: nu must be in [1, ", n - 1, "], got ", nu);
  Variable r = relu(concat({x, neg(x)}, -1));  // (..., 2Dk)
  std::vector<Variable> blocks;
  for (int64_t i = 1; i <= nu; ++i) {
    // roll(r, i)[j] = r[j - i mod n]: the last i entries move to the front
    Variable rolled = concat({slice(r, -1, n - i, n), slice(r, -1, 0, n - i)}, -1);
    blocks.push_back(r * rolled);
  }
  return nu == 1 ? blocks[0] : concat(blocks, -1);
}

Variable favor_plus_reference(const Variable& x, const Tensor& omega, double eps) {
  FWP_CHECK_SHAPE(omega.dim() == 2 && omega.size(0) == x.size(-1),
                  "favor_plus_reference: omega must be (Dk, m) with Dk = x.size(-1), got x=",
                  x.shape(), " and omega=", omega.shape());
  const double m = static_cast<double>(omega.size(1));
  Variable u = matmul(x, Variable(omega));                                   // (..., m)
  Variable offset = sum(square(x), {-1}, true) * 0.5 + 0.5 * std::log(2.0 * m);  // (..., 1)
  Variable phi = concat({exp(u - offset), exp(neg(u) - offset)}, -1);        // (..., 2m)
  return eps == 0.0 ? phi : phi + eps;
}

Tensor favor_projection(int64_t d_key, int64_t m, Rng& rng, DType dtype) {
  FWP_CHECK(d_key > 0 && m > 0, "favor_projection: sizes must be positive, got Dk=", d_key,
            " m=", m);
  std::vector<double> w(d_key * m);  // (Dk, m) row-major
  for (int64_t start = 0; start < m; start += d_key) {
    const int64_t cols = std::min(d_key, m - start);
    Tensor block = Tensor::randn({d_key, d_key}, rng, DType::f64);
    Tensor q = qr_q(block);  // orthonormal columns
    for (int64_t j = 0; j < cols; ++j) {
      double len = 0.0;  // length of a fresh Gaussian vector: chi(Dk)
      for (int64_t i = 0; i < d_key; ++i) len += block.at({j, i}) * block.at({j, i});
      len = std::sqrt(len);
      for (int64_t i = 0; i < d_key; ++i) w[i * m + start + j] = q.at({i, j}) * len;
    }
  }
  return Tensor::from_vector(w, {d_key, m}, dtype);
}

FeatureMap::FeatureMap(const FeatureMapConfig& config, int64_t d_key, uint64_t seed, DType dtype)
    : config_(config), d_key_(d_key), dtype_(dtype), rng_(seed) {
  FWP_CHECK(d_key > 0, "FeatureMap: Dk must be positive, got ", d_key);
  if (config.kind == FeatureMapKind::favor) {
    FWP_CHECK(config.m > 0, "FeatureMap: FAVOR+ needs m > 0, got ", config.m);
    omega_ = favor_projection(d_key, config.m, rng_, dtype);
    register_buffer("omega", &omega_);
    register_rng("rng", &rng_);  // the redraws
  }
  if (config.kind == FeatureMapKind::dpfp)
    FWP_CHECK(config.nu >= 1 && config.nu < 2 * d_key, "FeatureMap: DPFP needs 1 <= nu < 2 Dk, got nu=",
              config.nu, " for Dk=", d_key);
}

void FeatureMap::begin_forward() {
  if (config_.kind != FeatureMapKind::favor) return;
  bool redraw = config_.redraw == FavorRedraw::every_forward ||
                (config_.redraw == FavorRedraw::training_only && training());
  // drawn on the host (the rng is host-side), then kept where the module lives
  if (redraw) omega_ = favor_projection(d_key_, config_.m, rng_, dtype_).to(omega_.device());
}

Variable FeatureMap::forward(const Variable& x) const {
  FWP_CHECK_SHAPE(x.size(-1) == d_key_, "FeatureMap: input must end in Dk=", d_key_,
                  " features, got x=", x.shape());
  switch (config_.kind) {
    case FeatureMapKind::identity: return x;
    case FeatureMapKind::linear: return elu_plus_one(x);
    case FeatureMapKind::favor: return favor_plus(x, omega_, config_.favor_eps);
    case FeatureMapKind::dpfp: return dpfp(x, config_.nu);
    case FeatureMapKind::tanh: return tanh(x);
  }
  return x;
}

Variable sum_normalize(const Variable& x, double eps) {
  return x / (sum(x, {-1}, true) + eps);
}

}  // namespace fwp
