// The process a training program runs in: a stop flag for Ctrl-C, the device, the thread count.
#pragma once
#include <string>

#include "core/dtype.h"

namespace fwp::experiments {

// After install_stop_handler(), SIGINT/SIGTERM only set a flag: the loop checks stop_requested(),
// writes its checkpoint and returns. A second signal gets the default action (terminates).
// install_stop_handler(false) restores the default action (e.g. once the last checkpoint is out).
void install_stop_handler(bool on = true);
bool stop_requested();

// The device that --device names: "cpu", or "cuda" when this build has the CUDA backend and a
// device (or an emulator) answers. Otherwise throws an fwp::Error saying which is missing.
Device check_device(const std::string& device);
// threads > 0: use that many OpenMP threads (OpenBLAS-openmp follows). Returns the count in use.
int set_threads(int threads);

}  // namespace fwp::experiments
