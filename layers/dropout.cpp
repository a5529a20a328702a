// Dropout module: holds p and the generator; masks come from the autograd function `dropout`.
#include "layers/dropout.h"

#include "autograd/functions.h"

namespace fwp {

Dropout::Dropout(double p_, uint64_t seed) : p(p_), rng_(seed) {
  FWP_CHECK(p_ >= 0.0 && p_ < 1.0, "Dropout: p must lie in [0, 1), got ", p_);
  register_rng("rng", &rng_);
}

Variable Dropout::forward(const Variable& x) { return dropout(x, p, rng_, training()); }

}  // namespace fwp
