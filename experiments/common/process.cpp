// Implementation of process.h.
#include "experiments/common/process.h"

#include <csignal>
#include <omp.h>

#include "core/error.h"

namespace fwp::experiments {

namespace {
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int sig) {
  g_stop = 1;
  std::signal(sig, SIG_DFL);  // a second signal terminates
}
}  // namespace

void install_stop_handler(bool on) {
  std::signal(SIGINT, on ? on_stop_signal : SIG_DFL);
  std::signal(SIGTERM, on ? on_stop_signal : SIG_DFL);
}

bool stop_requested() { return g_stop != 0; }

void check_device(const std::string& device) {
  if (device == "cpu") return;
  if (device == "cuda")
    throw Error("--device cuda: this build has no CUDA backend yet (use --device cpu)");
  throw Error(cat("unknown device '", device, "' (expected cpu or cuda)"));
}

int set_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
  return omp_get_max_threads();
}

}  // namespace fwp::experiments
