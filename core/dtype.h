// Element types and devices. Kernels are templates over the C++ element type;
// dispatch_dtype() turns a runtime DType into a compile-time type exactly once.
//   dispatch_dtype(t.dtype(), [&](auto tag) { using T = decltype(tag); kernel<T>(...); });
#pragma once
#include <cstddef>
#include <ostream>

#include "core/error.h"

namespace fwp {

enum class DType { f32, f64 };
enum class Device { cpu, cuda };

inline size_t dtype_size(DType d) { return d == DType::f32 ? 4 : 8; }
inline const char* dtype_name(DType d) { return d == DType::f32 ? "f32" : "f64"; }
inline const char* device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }
inline std::ostream& operator<<(std::ostream& os, DType d) { return os << dtype_name(d); }
inline std::ostream& operator<<(std::ostream& os, Device d) { return os << device_name(d); }

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }

// Calls fn(float{}) or fn(double{}) according to the dtype.
template <typename Fn>
decltype(auto) dispatch_dtype(DType d, Fn&& fn) {
  if (d == DType::f32) return fn(float{});
  return fn(double{});
}

}  // namespace fwp
