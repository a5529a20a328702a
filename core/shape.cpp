// Shape utilities: element counts, printing, negative dims, strides, broadcasting.
#include "core/shape.h"

#include <algorithm>
#include <sstream>

#include "core/error.h"

namespace fwp {

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int64_t s : *this) n *= s;
  return n;
}

std::string Shape::str() const {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < size(); ++i) os << (i ? ", " : "") << (*this)[i];
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t d = dim < 0 ? dim + ndim : dim;
  FWP_CHECK_SHAPE(d >= 0 && d < ndim, op, ": dim ", dim, " is out of range for a tensor with ",
                  ndim, " dimensions");
  return d;
}

std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int64_t i = s.dim() - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  int64_t n = std::max(a.dim(), b.dim());
  Shape out(n, 1);
  for (int64_t i = 0; i < n; ++i) {
    int64_t sa = i < n - a.dim() ? 1 : a[i - (n - a.dim())];
    int64_t sb = i < n - b.dim() ? 1 : b[i - (n - b.dim())];
    FWP_CHECK_SHAPE(sa == sb || sa == 1 || sb == 1, op, ": shapes cannot be broadcast, got a=",
                    a, " and b=", b);
    out[i] = sa == 1 ? sb : sa;
  }
  return out;
}

}  // namespace fwp
