// Dropout (inverted): in training mode each element is zeroed with probability p and the
// survivors are scaled by 1 / (1 - p), so the expected value is unchanged; in eval mode it is
// the identity. The module owns its seeded Rng, so a run's masks reproduce bit for bit.
#pragma once
#include "layers/module.h"

namespace fwp {

class Dropout : public Module {
 public:
  explicit Dropout(double p, uint64_t seed = 0);
  Variable forward(const Variable& x);  // draws a fresh mask from rng_ when training()

  double p;
  Rng& rng() { return rng_; }  // e.g. to save and restore its state

 private:
  Rng rng_;
};

}  // namespace fwp
