// Tensor storage, creation, views, conversion and printing.
// CPU memory is 64-byte aligned so that SIMD loads of whole rows never split cache lines;
// core/allocator.h recycles large blocks.
#include "core/tensor.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <sstream>
#include <type_traits>

#include "core/allocator.h"
#ifdef FWP_WITH_CUDA
#include "kernels/cuda/runtime.h"
#endif

namespace fwp {

// ---------------------------------------------------------------- Storage

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
#ifdef FWP_WITH_CUDA
  if (device == Device::cuda) {
    data_ = kernels::cuda::device_alloc(nbytes);
    // the NaN fill of core/allocator.h, for device memory too
    if (cpu_allocator_fill_uninitialized())
      kernels::cuda::memset_device(data_, 0xFF, nbytes, "Storage");
    return;
  }
#else
  FWP_CHECK(device == Device::cpu,
            "Storage: device 'cuda' is not available (fwp was built without CUDA)");
#endif
  data_ = cpu_alloc(nbytes);
}

Storage::~Storage() {
#ifdef FWP_WITH_CUDA
  if (device_ == Device::cuda) {
    kernels::cuda::device_free(data_, nbytes_);
    return;
  }
#endif
  cpu_free(data_, nbytes_);
}

// ---------------------------------------------------------------- creation

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t s : shape)
    FWP_CHECK_SHAPE(s >= 0, "Tensor::empty: sizes must be non-negative, got ", shape);
  auto storage = std::make_shared<Storage>(shape.numel() * dtype_size(dtype), device);
  return Tensor(std::move(storage), 0, shape, dtype);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype) { return full(Shape{}, value, dtype); }

Tensor Tensor::arange(int64_t n, DType dtype) {
  Tensor t = empty({n}, dtype);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(i);
  });
  return t;
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape, DType dtype) {
  FWP_CHECK_SHAPE(static_cast<int64_t>(values.size()) == shape.numel(), "Tensor::from_vector: ",
                  values.size(), " values do not fill shape ", shape);
  Tensor t = empty(shape, dtype);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<T>(values[i]);
  });
  return t;
}

Tensor Tensor::randn(const Shape& shape, Rng& rng, DType dtype, double mean, double stddev) {
  Tensor t = empty(shape, dtype);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    const int64_t n = t.numel();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(mean + stddev * rng.normal());
  });
  return t;
}

Tensor Tensor::uniform(const Shape& shape, Rng& rng, double lo, double hi, DType dtype) {
  Tensor t = empty(shape, dtype);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    const int64_t n = t.numel();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(rng.uniform(lo, hi));
  });
  return t;
}

// ---------------------------------------------------------------- metadata

void Tensor::check_defined(const char* what) const {
  FWP_CHECK(defined(), "Tensor::", what, ": the tensor is undefined (default-constructed)");
}

int64_t Tensor::size(int64_t d) const { return shape_[normalize_dim(d, dim(), "Tensor::size")]; }

Device Tensor::device() const { return storage_ ? storage_->device() : Device::cpu; }

void* Tensor::raw_data() const {
  check_defined("raw_data");
  return static_cast<char*>(storage_->data()) + offset_ * dtype_size(dtype_);
}

void require_cpu(const Tensor& t, const char* op, const char* arg) {
  FWP_CHECK(t.device() == Device::cpu, op, ": argument '", arg,
            "' must be on the cpu, got device ", t.device());
}

// ---------------------------------------------------------------- views and copies

Tensor Tensor::reshape(const Shape& shape) const {
  check_defined("reshape");
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (int64_t i = 0; i < out.dim(); ++i) {
    if (out[i] == -1) {
      FWP_CHECK_SHAPE(infer < 0, "reshape: only one size may be -1, got ", shape);
      infer = i;
    } else {
      FWP_CHECK_SHAPE(out[i] >= 0, "reshape: invalid size in ", shape);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    FWP_CHECK_SHAPE(known > 0 && numel() % known == 0, "reshape: cannot reshape ", shape_,
                    " into ", shape);
    out[infer] = numel() / known;
  }
  FWP_CHECK_SHAPE(out.numel() == numel(), "reshape: cannot reshape ", shape_, " (", numel(),
                  " elements) into ", shape);
  return Tensor(storage_, offset_, out, dtype_);
}

Tensor Tensor::narrow0(int64_t start, int64_t length) const {
  check_defined("narrow0");
  FWP_CHECK_SHAPE(dim() >= 1 && start >= 0 && length >= 0 && start + length <= shape_[0],
                  "narrow0: rows [", start, ", ", start + length, ") are out of range for shape ",
                  shape_);
  Shape out = shape_;
  out[0] = length;
  int64_t row = numel() / (shape_[0] == 0 ? 1 : shape_[0]);
  return Tensor(storage_, offset_ + start * row, out, dtype_);
}

Tensor Tensor::clone() const {
  check_defined("clone");
  Tensor t = empty(shape_, dtype_, device());
  t.copy_(*this);
  return t;
}

Tensor Tensor::to(DType dtype) const {
  check_defined("to");
  if (dtype == dtype_) return *this;
  Tensor t = empty(shape_, dtype, device());
  t.copy_(*this);
  return t;
}

Tensor Tensor::to(Device device) const {
  check_defined("to");
  if (device == this->device()) return *this;
  Tensor t = empty(shape_, dtype_, device);
  t.copy_(*this);
  return t;
}

void Tensor::fill_(double value) {
  check_defined("fill_");
#ifdef FWP_WITH_CUDA
  if (device() == Device::cuda) {
    dispatch_dtype(dtype_, [&](auto tag) {
      using T = decltype(tag);
      kernels::cuda::fill_cuda<T>(data<T>(), numel(), static_cast<T>(value));
    });
    return;
  }
#endif
  require_cpu(*this, "fill_", "self");
  dispatch_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    T* p = data<T>();
    T v = static_cast<T>(value);
    const int64_t n = numel();  // hoisted: numel() multiplies the sizes on every call
    if (value == 0.0) {
      std::memset(static_cast<void*>(p), 0, n * sizeof(T));  // all-zero bits are 0.0 in IEEE 754
      return;
    }
#pragma omp parallel for simd schedule(static) if (parallel : n > 262144)
    for (int64_t i = 0; i < n; ++i) p[i] = v;
  });
}

void Tensor::copy_(const Tensor& src) {
  check_defined("copy_");
  FWP_CHECK_SHAPE(src.shape() == shape_, "copy_: shapes must match, got self=", shape_,
                  " and src=", src.shape());
#ifdef FWP_WITH_CUDA
  if (device() == Device::cuda || src.device() == Device::cuda) {
    copy_involving_cuda(src);
    return;
  }
#endif
  require_cpu(*this, "copy_", "self");
  require_cpu(src, "copy_", "src");
  if (src.dtype() == dtype_) {
    std::memcpy(raw_data(), src.raw_data(), nbytes());
    return;
  }
  dispatch_dtype(dtype_, [&](auto out_tag) {
    dispatch_dtype(src.dtype(), [&](auto in_tag) {
      using TO = decltype(out_tag);
      using TI = decltype(in_tag);
      TO* o = data<TO>();
      const TI* in = src.data<TI>();
      const int64_t n = numel();
      for (int64_t i = 0; i < n; ++i) o[i] = static_cast<TO>(in[i]);
    });
  });
}

#ifdef FWP_WITH_CUDA
// Same dtype: one cudaMemcpy in the right direction. Different dtypes: the source moves to this
// tensor's device first (same dtype), then converts there.
void Tensor::copy_involving_cuda(const Tensor& src) {
  check_defined("copy_");
  src.check_defined("copy_");
  if (src.dtype() == dtype_) {
    if (device() == Device::cuda && src.device() == Device::cuda)
      kernels::cuda::copy_device_to_device(raw_data(), src.raw_data(), nbytes(), "copy_");
    else if (device() == Device::cuda)
      kernels::cuda::copy_host_to_device(raw_data(), src.raw_data(), nbytes(), "copy_");
    else
      kernels::cuda::copy_device_to_host(raw_data(), src.raw_data(), nbytes(), "copy_");
    return;
  }
  const Tensor here = src.to(device());
  if (device() == Device::cpu) {
    copy_(here);
    return;
  }
  dispatch_dtype(dtype_, [&](auto out_tag) {
    using TO = decltype(out_tag);
    if constexpr (std::is_same_v<TO, float>)
      kernels::cuda::convert_cuda<float, double>(data<float>(), here.data<double>(), numel());
    else
      kernels::cuda::convert_cuda<double, float>(data<double>(), here.data<float>(), numel());
  });
}
#endif

// ---------------------------------------------------------------- reading back

double Tensor::item() const {
  check_defined("item");
  FWP_CHECK_SHAPE(numel() == 1, "item: the tensor must have one element, got shape ", shape_);
  return at(std::vector<int64_t>(dim(), 0));
}

double Tensor::at(const std::vector<int64_t>& index) const {
  check_defined("at");
#ifdef FWP_WITH_CUDA
  if (device() == Device::cuda) {  // one element back to the host
    FWP_CHECK_SHAPE(static_cast<int64_t>(index.size()) == dim(), "at: got ", index.size(),
                    " indices for shape ", shape_);
    std::vector<int64_t> strides = contiguous_strides(shape_);
    int64_t flat = 0;
    for (int64_t i = 0; i < dim(); ++i) {
      FWP_CHECK_SHAPE(index[i] >= 0 && index[i] < shape_[i], "at: index ", index[i],
                      " out of range for dim ", i, " of shape ", shape_);
      flat += index[i] * strides[i];
    }
    return dispatch_dtype(dtype_, [&](auto tag) -> double {
      using T = decltype(tag);
      T value;
      kernels::cuda::copy_device_to_host(&value, data<T>() + flat, sizeof(T), "at");
      return static_cast<double>(value);
    });
  }
#endif
  require_cpu(*this, "at", "self");
  FWP_CHECK_SHAPE(static_cast<int64_t>(index.size()) == dim(), "at: got ", index.size(),
                  " indices for shape ", shape_);
  int64_t flat = 0;
  for (int64_t i = 0; i < dim(); ++i) {
    FWP_CHECK_SHAPE(index[i] >= 0 && index[i] < shape_[i], "at: index ", index[i],
                    " out of range for dim ", i, " of shape ", shape_);
    flat = flat * shape_[i] + index[i];
  }
  return dispatch_dtype(dtype_, [&](auto tag) -> double {
    using T = decltype(tag);
    return static_cast<double>(data<T>()[flat]);
  });
}

std::vector<double> Tensor::to_vector() const {
  check_defined("to_vector");
  Tensor c = device() == Device::cpu ? *this : to(Device::cpu);
  std::vector<double> v(numel());
  dispatch_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    const T* p = c.data<T>();
    const int64_t n = numel();
    for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>(p[i]);
  });
  return v;
}

namespace {
// Prints dims [d, ndim) of the block starting at flat offset `base`, nested with brackets.
void print_block(std::ostream& os, const std::vector<double>& v, const Shape& s,
                 const std::vector<int64_t>& strides, int64_t d, int64_t base, int64_t maxn,
                 int indent) {
  os << "[";
  int64_t n = s[d];
  for (int64_t i = 0; i < n; ++i) {
    if (n > maxn && i == maxn / 2) {
      os << (d + 1 == s.dim() ? "..., " : "...,\n" + std::string(indent + 1, ' '));
      i = n - maxn / 2;
    }
    if (d + 1 == s.dim()) {
      os << std::setw(9) << v[base + i * strides[d]];
    } else {
      print_block(os, v, s, strides, d + 1, base + i * strides[d], maxn, indent + 1);
    }
    if (i + 1 < n) os << (d + 1 == s.dim() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << "]";
}
}  // namespace

std::string Tensor::str(int64_t max_per_dim) const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream os;
  os << std::fixed << std::setprecision(4) << "tensor(";
  if (dim() == 0) {
    os << item();
  } else {
    print_block(os, to_vector(), shape_, contiguous_strides(shape_), 0, 0, max_per_dim, 7);
  }
  os << ", shape=" << shape_ << ", dtype=" << dtype_;
  if (device() != Device::cpu) os << ", device=" << device();
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace fwp
