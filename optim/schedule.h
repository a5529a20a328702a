// Learning-rate schedule: linear warm-up, then cosine decay to zero.
//   step < W:      lr = base (step + 1) / W                     (reaches base at step W - 1)
//   W <= step < S: lr = base (1 + cos(pi (step - W) / (S - W))) / 2
//   step >= S:     lr = 0
// `step` counts optimizer steps from 0 (the lr to use for the first update is lr(0)).
#pragma once
#include <cstdint>

namespace fwp {

double warmup_cosine_lr(int64_t step, double base_lr, int64_t warmup_steps, int64_t total_steps);

}  // namespace fwp
