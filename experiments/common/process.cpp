// Implementation of process.h.
#include "experiments/common/process.h"

#include <csignal>
#include <omp.h>

#include "core/error.h"
#ifdef FWP_WITH_CUDA
#include "kernels/cuda/runtime.h"
#endif

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

Device check_device(const std::string& device) {
  if (device == "cpu") return Device::cpu;
  FWP_CHECK(device == "cuda", "--device: unknown device '", device, "' (expected cpu or cuda)");
#ifdef FWP_WITH_CUDA
  FWP_CHECK(kernels::cuda::available(), "--device cuda: no CUDA device answers (",
            kernels::cuda::unavailable_reason(), "); use --device cpu");
  return Device::cuda;
#else
  throw Error("--device cuda: no CUDA backend in this build (configure with -DFWP_CUDA=ON, or "
              "use --device cpu)");
#endif
}

int set_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
  return omp_get_max_threads();
}

}  // namespace fwp::experiments
