// Shape: the sizes of a tensor's dimensions, outermost first (row-major).
// Negative dimension indices count from the back, as in PyTorch: dim -1 is the last.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

namespace fwp {

struct Shape : std::vector<int64_t> {
  using std::vector<int64_t>::vector;
  Shape(std::initializer_list<int64_t> dims) : std::vector<int64_t>(dims) {}
  Shape(const std::vector<int64_t>& dims) : std::vector<int64_t>(dims) {}

  int64_t numel() const;              // product of the sizes (1 for a scalar shape ())
  int64_t dim() const { return static_cast<int64_t>(size()); }
  std::string str() const;            // "(2, 3)"
};

std::ostream& operator<<(std::ostream& os, const Shape& s);

// Wraps a possibly negative dim into [0, ndim); throws naming `op` when out of range.
int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op);

// Row-major strides in elements: strides[i] = product of sizes after i.
std::vector<int64_t> contiguous_strides(const Shape& s);

// Numpy broadcasting, right-aligned: sizes must be equal or one of them 1.
// Throws ShapeError naming `op` and both shapes otherwise.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace fwp
