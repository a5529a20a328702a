// The one place where a tensor-level op picks its kernel by device. kernels/cpu/ and
// kernels/cuda/ hold twins of one signature, named `name` and `name_cuda`
// (kernels/cpu/softmax.h's softmax_forward<T>, kernels/cuda/softmax.h's softmax_forward_cuda<T>),
// so an op in core/ calls
//   FWP_KERNEL(x.device(), softmax_forward, T)(out.data<T>(), x.data<T>(), rows, cols);
// and runs on whichever device its (already checked to agree) arguments live on. Without
// FWP_CUDA a tensor cannot be on the GPU, and the macro is the CPU kernel itself: the CPU path
// pays one comparison per op at most.
// The fused fast-weight kernels are named name_cpu / name_cuda; FWP_FUSED_KERNEL picks those.
#pragma once
#include <cstdint>
#include <memory>

#include "core/dtype.h"
#include "core/indices.h"
#ifdef FWP_WITH_CUDA
#include "kernels/cuda/runtime.h"
#endif

#ifdef FWP_WITH_CUDA
#define FWP_KERNEL(device, name, T) \
  ((device) == ::fwp::Device::cuda ? &::fwp::kernels::name##_cuda<T> : &::fwp::kernels::name<T>)
#define FWP_FUSED_KERNEL(device, name, T)                                          \
  ((device) == ::fwp::Device::cuda ? &::fwp::kernels::name##_cuda<T> \
                                   : &::fwp::kernels::name##_cpu<T>)
#else
#define FWP_KERNEL(device, name, T) (&::fwp::kernels::name<T>)
#define FWP_FUSED_KERNEL(device, name, T) (&::fwp::kernels::name##_cpu<T>)
#endif

namespace fwp {

// Index arrays (token ids, targets: core/indices.h) live on the host. A kernel on `device`
// reads them through data(): the host values themselves for the CPU, a copy in device memory
// (alive as long as this object) for the GPU.
class IndicesOn {
 public:
  IndicesOn(const Indices& ids, Device device, const char* op) : host_(ids.values.data()) {
#ifdef FWP_WITH_CUDA
    if (device == Device::cuda)
      copy_ = std::make_unique<kernels::cuda::DeviceCopy>(
          ids.values.data(), ids.values.size() * sizeof(int64_t), op);
#else
    (void)device;
    (void)op;
#endif
  }
  const int64_t* data() const {
#ifdef FWP_WITH_CUDA
    if (copy_) return copy_->get<int64_t>();
#endif
    return host_;
  }

 private:
  const int64_t* host_;
#ifdef FWP_WITH_CUDA
  std::unique_ptr<kernels::cuda::DeviceCopy> copy_;
#endif
};

}  // namespace fwp
