// The CUDA backend's runtime, seen from plain C++ (no CUDA headers): whether a device answers,
// device memory through a caching allocator, copies between host and device, and the element
// kernels that Tensor itself needs (fill, dtype conversion). Defined in kernels/cuda/runtime.cu,
// built only with FWP_CUDA (the macro FWP_WITH_CUDA is then defined for every library above).
// Unlike the CPU kernels these throw: every CUDA call and launch is checked, and a failure
// becomes an fwp::Error naming the op and the CUDA error (kernels/cuda/check.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace fwp::kernels::cuda {

// True when a CUDA device (or an emulator standing in for the runtime) answers. Asked once;
// never throws. unavailable_reason() says why not ("" when available).
bool available();
std::string unavailable_reason();
// Throws fwp::Error naming `op` and the reason unless available().
void require_available(const char* op);

// Device memory. Freed blocks wait in a cache for the next request of the same rounded size
// (no managed memory); when cudaMalloc fails the cache is emptied and the call retried once.
void* device_alloc(size_t nbytes);
void device_free(void* ptr, size_t nbytes);

struct CudaAllocatorStats {
  int64_t cache_hits = 0;    // allocations served from the cache
  int64_t cache_misses = 0;  // allocations that went to cudaMalloc
  size_t cached_bytes = 0;   // free bytes held in the cache now
};
CudaAllocatorStats allocator_stats();
void allocator_release_cache();  // returns every cached block with cudaFree

// Copies nbytes; `op` names the caller in errors. Each waits for the copy to finish.
void copy_host_to_device(void* dst, const void* src, size_t nbytes, const char* op);
void copy_device_to_host(void* dst, const void* src, size_t nbytes, const char* op);
void copy_device_to_device(void* dst, const void* src, size_t nbytes, const char* op);

// Sets nbytes of device memory to the byte `value`.
void memset_device(void* dst, int value, size_t nbytes, const char* op);

// p[0..n) = value, on the device.
template <typename T>
void fill_cuda(T* p, int64_t n, T value);
// out[i] = static_cast<TO>(in[i]) for i < n, both on the device.
template <typename TO, typename TI>
void convert_cuda(TO* out, const TI* in, int64_t n);

// A host array copied into device memory for the lifetime of the object, for the index arrays
// (token ids, targets) that fwp keeps on the host (core/indices.h) and the kernels read on the
// device. The memory comes from, and returns to, the caching allocator.
class DeviceCopy {
 public:
  DeviceCopy(const void* host, size_t nbytes, const char* op)
      : nbytes_(nbytes), ptr_(device_alloc(nbytes)) {
    try {
      copy_host_to_device(ptr_, host, nbytes, op);
    } catch (...) {
      device_free(ptr_, nbytes_);
      throw;
    }
  }
  ~DeviceCopy() { device_free(ptr_, nbytes_); }
  DeviceCopy(const DeviceCopy&) = delete;
  DeviceCopy& operator=(const DeviceCopy&) = delete;
  template <typename T>
  const T* get() const { return static_cast<const T*>(ptr_); }

 private:
  size_t nbytes_;
  void* ptr_;
};

// Waits for the device; turns an error of an earlier asynchronous launch into fwp::Error.
void synchronize(const char* op);

}  // namespace fwp::kernels::cuda
