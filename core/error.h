// Errors. fwp never exits or aborts: user mistakes throw fwp::Error (or ShapeError for
// shape/dtype mismatches) with a message naming the op, the argument and the shapes;
// broken internal invariants throw fwp::InternalError via FWP_ASSERT.
//   FWP_CHECK(a.dim() == 2, "matmul: a must be 2-D, got a=", a.shape());
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace fwp {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// Shapes or dtypes of the arguments do not fit the op.
class ShapeError : public Error {
 public:
  explicit ShapeError(const std::string& msg) : Error(msg) {}
};

// A bug in fwp itself, not in the caller's input.
class InternalError : public Error {
 public:
  explicit InternalError(const std::string& msg) : Error(msg) {}
};

// cat(...) streams all arguments into one string (anything with operator<<).
template <typename... Args>
std::string cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

}  // namespace fwp

#define FWP_CHECK(cond, ...) \
  do {                       \
    if (!(cond)) throw ::fwp::Error(::fwp::cat(__VA_ARGS__)); \
  } while (0)

#define FWP_CHECK_SHAPE(cond, ...) \
  do {                             \
    if (!(cond)) throw ::fwp::ShapeError(::fwp::cat(__VA_ARGS__)); \
  } while (0)

#define FWP_ASSERT(cond, ...)                                                     \
  do {                                                                            \
    if (!(cond))                                                                  \
      throw ::fwp::InternalError(::fwp::cat("internal error at ", __FILE__, ":", \
                                            __LINE__, ": " #cond " ", ##__VA_ARGS__)); \
  } while (0)
