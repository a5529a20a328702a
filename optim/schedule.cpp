// The warm-up + cosine schedule (formula in schedule.h).
#include "optim/schedule.h"

#include <cmath>
#include <numbers>

#include "core/error.h"

namespace fwp {

double warmup_cosine_lr(int64_t step, double base_lr, int64_t warmup_steps, int64_t total_steps) {
  FWP_CHECK(step >= 0 && warmup_steps >= 0 && warmup_steps <= total_steps,
            "warmup_cosine_lr: need step >= 0 and 0 <= warmup_steps <= total_steps, got step=",
            step, " warmup_steps=", warmup_steps, " total_steps=", total_steps);
  if (step < warmup_steps)
    return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  if (step >= total_steps) return 0.0;
  const double progress =
      static_cast<double>(step - warmup_steps) / static_cast<double>(total_steps - warmup_steps);
  return base_lr * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

}  // namespace fwp
