// The CUDA runtime side of the backend (kernels/cuda/runtime.h): device query, the caching
// allocator, copies, fill and dtype conversion.
#include <mutex>
#include <string>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/runtime.h"

namespace fwp::kernels::cuda {

namespace {

struct DeviceState {
  bool available = false;
  std::string reason;
};

const DeviceState& device_state() {
  static const DeviceState state = [] {
    DeviceState s;
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      s.reason = cat("cudaGetDeviceCount failed with CUDA error ", static_cast<int>(e), " (",
                     cudaGetErrorString(e), ")");
    } else if (count <= 0) {
      s.reason = "cudaGetDeviceCount found no CUDA device";
    } else {
      s.available = true;
    }
    return s;
  }();
  return state;
}

struct FreeBlock {
  void* ptr;
  size_t bytes;
};

struct BlockCache {
  std::mutex mutex;
  std::vector<FreeBlock> blocks;
  CudaAllocatorStats stats;
};

// Never destroyed: tensors in static storage may be freed after other statics are gone.
BlockCache& cache() {
  static BlockCache* c = new BlockCache();
  return *c;
}

// 512-byte units below 1 MiB, 64 KiB units above: a training step repeats its sizes exactly.
size_t rounded(size_t nbytes) {
  const size_t unit = nbytes >= (size_t(1) << 20) ? (size_t(1) << 16) : 512;
  return nbytes == 0 ? unit : (nbytes + unit - 1) / unit * unit;
}

void release_locked(BlockCache& c) {
  for (const FreeBlock& b : c.blocks) (void)cudaFree(b.ptr);  // freeing only: errors are moot
  c.blocks.clear();
  c.stats.cached_bytes = 0;
}

constexpr int kThreads = 256;

int blocks_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65535 ? (b < 1 ? 1 : b) : 65535);
}

template <typename T>
__global__ void fill_kernel(T* p, int64_t n, T value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    p[i] = value;
}

template <typename TO, typename TI>
__global__ void convert_kernel(TO* out, const TI* in, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = static_cast<TO>(in[i]);
}

}  // namespace

bool available() { return device_state().available; }
std::string unavailable_reason() { return device_state().reason; }

void require_available(const char* op) {
  FWP_CHECK(available(), op, ": device 'cuda' is not available: ", unavailable_reason());
}

void* device_alloc(size_t nbytes) {
  require_available("cuda allocation");
  const size_t bytes = rounded(nbytes);
  BlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (size_t i = 0; i < c.blocks.size(); ++i) {
    if (c.blocks[i].bytes != bytes) continue;
    void* p = c.blocks[i].ptr;
    c.blocks.erase(c.blocks.begin() + static_cast<std::ptrdiff_t>(i));
    c.stats.cached_bytes -= bytes;
    ++c.stats.cache_hits;
    return p;
  }
  ++c.stats.cache_misses;
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {  // out of memory: give the cached blocks back and try once more
    (void)cudaGetLastError();
    release_locked(c);
    p = nullptr;
    e = cudaMalloc(&p, bytes);
  }
  if (e != cudaSuccess)
    throw_cuda_error("cuda allocation", cat("cudaMalloc(", bytes, " bytes)").c_str(), e);
  return p;
}

void device_free(void* ptr, size_t nbytes) {
  if (ptr == nullptr) return;
  BlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  const size_t bytes = rounded(nbytes);
  c.blocks.push_back({ptr, bytes});
  c.stats.cached_bytes += bytes;
}

CudaAllocatorStats allocator_stats() {
  BlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.stats;
}

void allocator_release_cache() {
  BlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  release_locked(c);
}

void copy_host_to_device(void* dst, const void* src, size_t nbytes, const char* op) {
  if (nbytes == 0) return;
  FWP_CUDA_CHECK(op, cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice));
}

void copy_device_to_host(void* dst, const void* src, size_t nbytes, const char* op) {
  if (nbytes == 0) return;
  FWP_CUDA_CHECK(op, cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost));
}

void copy_device_to_device(void* dst, const void* src, size_t nbytes, const char* op) {
  if (nbytes == 0) return;
  FWP_CUDA_CHECK(op, cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToDevice));
}

void memset_device(void* dst, int value, size_t nbytes, const char* op) {
  if (nbytes == 0) return;
  FWP_CUDA_CHECK(op, cudaMemset(dst, value, nbytes));
}

template <typename T>
void fill_cuda(T* p, int64_t n, T value) {
  if (n <= 0) return;
  fill_kernel<T><<<blocks_for(n), kThreads>>>(p, n, value);
  FWP_CUDA_CHECK_LAUNCH("fill_cuda");
}

template <typename TO, typename TI>
void convert_cuda(TO* out, const TI* in, int64_t n) {
  if (n <= 0) return;
  convert_kernel<TO, TI><<<blocks_for(n), kThreads>>>(out, in, n);
  FWP_CUDA_CHECK_LAUNCH("convert_cuda");
}

void synchronize(const char* op) { FWP_CUDA_CHECK(op, cudaDeviceSynchronize()); }

template void fill_cuda<float>(float*, int64_t, float);
template void fill_cuda<double>(double*, int64_t, double);
template void convert_cuda<float, double>(float*, const double*, int64_t);
template void convert_cuda<double, float>(double*, const float*, int64_t);

}  // namespace fwp::kernels::cuda
