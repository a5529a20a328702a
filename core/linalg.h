// Small dense linear algebra on the CPU (no autograd): what the layers need for random
// features. Computed in double precision whatever the dtype, then converted.
#pragma once
#include "core/tensor.h"

namespace fwp {

// The Q factor of a thin QR decomposition of a (M, N), M >= N: Q is (M, N) with orthonormal
// columns spanning a's columns (modified Gram-Schmidt, repeated once for accuracy).
// Throws if a's columns are linearly dependent.
Tensor qr_q(const Tensor& a);

}  // namespace fwp
