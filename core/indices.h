// Indices: integer ids with a shape (token ids, class targets). Plain host memory: they index
// tensors but are never differentiated, so they are not a Tensor dtype.
#pragma once
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "core/shape.h"

namespace fwp {

struct Indices {
  Shape shape;
  std::vector<int64_t> values;  // row-major, shape.numel() of them

  Indices() = default;
  Indices(Shape s, std::vector<int64_t> v) : shape(std::move(s)), values(std::move(v)) {
    FWP_CHECK_SHAPE(static_cast<int64_t>(values.size()) == shape.numel(), "Indices: ",
                    values.size(), " values do not fill shape ", shape);
  }
  int64_t numel() const { return static_cast<int64_t>(values.size()); }
};

}  // namespace fwp
