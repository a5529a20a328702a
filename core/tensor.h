// Tensor: an n-dimensional array of f32 or f64 on a device (cpu; cuda when built with it).
// A Tensor is a handle: copies share storage, like std::shared_ptr. Data is always contiguous
// row-major, so reshape() and narrow0() are free views; transposes and permutes copy.
// Tensors have no gradients: autograd/variable.h wraps them for that.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/shape.h"

namespace fwp {

// Bytes of tensor storage alive now, and the most alive at once since the last
// reset_peak_memory() (process-wide, thread-safe; core/memory_stats.cpp). Benchmarks use it to
// measure what an op keeps.
struct MemoryStats {
  int64_t current_bytes = 0;
  int64_t peak_bytes = 0;
};
MemoryStats memory_stats();
void reset_peak_memory();  // peak := current

// Counts n bytes as alive in memory_stats() for as long as it exists.
class LiveBytes {
 public:
  explicit LiveBytes(size_t n);
  ~LiveBytes();
  LiveBytes(const LiveBytes&) = delete;
  LiveBytes& operator=(const LiveBytes&) = delete;

 private:
  int64_t n_;
};

// A block of device memory; freed when the last Tensor handle that uses it goes away.
class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_ = Device::cpu;
  LiveBytes live_{nbytes_};  // declared after nbytes_, so constructed from its final value
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor: no storage, defined() is false
  bool defined() const { return storage_ != nullptr; }

  // ---- creation (values are exact: ones are 1, arange counts 0, 1, 2, ...)
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = Device::cpu);
  static Tensor scalar(double value, DType dtype = DType::f32);  // shape ()
  static Tensor arange(int64_t n, DType dtype = DType::f32);     // 0, 1, ..., n-1
  // Row-major values; values.size() must equal shape.numel().
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape,
                            DType dtype = DType::f32);
  static Tensor randn(const Shape& shape, Rng& rng, DType dtype = DType::f32, double mean = 0.0,
                      double stddev = 1.0);
  static Tensor uniform(const Shape& shape, Rng& rng, double lo, double hi,
                        DType dtype = DType::f32);

  // ---- metadata
  const Shape& shape() const { return shape_; }
  int64_t dim() const { return shape_.dim(); }
  int64_t size(int64_t d) const;  // negative d counts from the back
  int64_t numel() const { return shape_.numel(); }
  DType dtype() const { return dtype_; }
  Device device() const;
  size_t nbytes() const { return numel() * dtype_size(dtype_); }

  // ---- element access. data<T>() checks that T matches the dtype.
  template <typename T> T* data();
  template <typename T> const T* data() const;
  void* raw_data() const;  // untyped pointer to the first element (any device)

  // ---- views and copies
  Tensor reshape(const Shape& shape) const;       // one size may be -1; shares storage
  Tensor narrow0(int64_t start, int64_t length) const;  // rows [start, start+length) of dim 0; shares
  Tensor clone() const;                           // deep copy
  Tensor to(DType dtype) const;                   // converts (returns *this if equal)
  Tensor to(Device device) const;                 // copies between devices (returns *this if equal)
  bool shares_storage_with(const Tensor& other) const { return storage_ == other.storage_; }

  // ---- in-place writes (outputs of kernels are written this way)
  void fill_(double value);
  void copy_(const Tensor& src);  // same shape; converts dtype, copies across devices

  // ---- reading values back (tests, printing, small scalars)
  double item() const;                              // numel must be 1
  double at(const std::vector<int64_t>& index) const;
  std::vector<double> to_vector() const;
  std::string str(int64_t max_per_dim = 6) const;   // readable, truncated with "..."

 private:
  Tensor(std::shared_ptr<Storage> storage, int64_t offset, Shape shape, DType dtype)
      : storage_(std::move(storage)), offset_(offset), shape_(std::move(shape)), dtype_(dtype) {}
  void check_defined(const char* what) const;
#ifdef FWP_WITH_CUDA
  void copy_involving_cuda(const Tensor& src);  // copy_ when either side is on the GPU
#endif

  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;  // in elements
  Shape shape_;
  DType dtype_ = DType::f32;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

template <typename T>
T* Tensor::data() {
  check_defined("data");
  FWP_CHECK(dtype_ == dtype_of<T>(), "Tensor::data: asked for ", dtype_of<T>(),
            " but the tensor is ", dtype_);
  return static_cast<T*>(storage_->data()) + offset_;
}

template <typename T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}

// Throws unless t is on the CPU; `op` names the caller in the message.
void require_cpu(const Tensor& t, const char* op, const char* arg);

}  // namespace fwp
