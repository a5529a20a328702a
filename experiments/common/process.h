// The process a training program runs in: a stop flag for Ctrl-C, the device, the thread count.
#pragma once
#include <string>

namespace fwp::experiments {

// After install_stop_handler(), SIGINT/SIGTERM only set a flag: the loop checks stop_requested(),
// writes its checkpoint and returns. A second signal gets the default action (terminates).
// install_stop_handler(false) restores the default action (e.g. once the last checkpoint is out).
void install_stop_handler(bool on = true);
bool stop_requested();

// "cpu" is accepted; "cuda" throws "no CUDA backend in this build"; anything else throws.
void check_device(const std::string& device);
// threads > 0: use that many OpenMP threads (OpenBLAS-openmp follows). Returns the count in use.
int set_threads(int threads);

}  // namespace fwp::experiments
