// Checked CUDA calls for the .cu files of kernels/cuda/: a failed call or launch throws
// fwp::Error naming the op, the call and the CUDA error.
//   FWP_CUDA_CHECK("matmul", cudaMemcpy(...));
//   kernel<<<grid, block>>>(...); FWP_CUDA_CHECK_LAUNCH("delta_rule_forward_cuda");
#pragma once
#include <cuda_runtime.h>

#include "core/error.h"  // header only: kernels link nothing above them

namespace fwp::kernels::cuda {

[[noreturn]] inline void throw_cuda_error(const char* op, const char* call, cudaError_t e) {
  (void)cudaGetLastError();  // clear the sticky error state where the runtime allows it
  throw ::fwp::Error(::fwp::cat(op, ": ", call, " failed with CUDA error ", static_cast<int>(e),
                                " (", cudaGetErrorString(e), ")"));
}

}  // namespace fwp::kernels::cuda

#define FWP_CUDA_CHECK(op, call)                                                   \
  do {                                                                             \
    const cudaError_t fwp_cuda_err_ = (call);                                      \
    if (fwp_cuda_err_ != cudaSuccess)                                              \
      ::fwp::kernels::cuda::throw_cuda_error(op, #call, fwp_cuda_err_);            \
  } while (0)

#define FWP_CUDA_CHECK_LAUNCH(op)                                                  \
  do {                                                                             \
    const cudaError_t fwp_cuda_err_ = cudaGetLastError();                          \
    if (fwp_cuda_err_ != cudaSuccess)                                              \
      ::fwp::kernels::cuda::throw_cuda_error(op, "kernel launch", fwp_cuda_err_);  \
  } while (0)
