// Thin QR by modified Gram-Schmidt: for each column j, subtract its projections on the
// already-orthonormal columns 0..j-1 (twice: "twice is enough" re-orthogonalisation keeps
// the loss of orthogonality at rounding level), then normalise.
#include "core/linalg.h"

#include <cmath>
#include <vector>

namespace fwp {

Tensor qr_q(const Tensor& a) {
  FWP_CHECK(a.defined(), "qr_q: argument 'a' is an undefined tensor");
  FWP_CHECK_SHAPE(a.dim() == 2 && a.size(0) >= a.size(1),
                  "qr_q: a must be 2-D (M, N) with M >= N, got a=", a.shape());
  const int64_t M = a.size(0), N = a.size(1);
  std::vector<double> v = a.to_vector();  // row-major (M, N); column j is v[i * N + j]
  for (int64_t j = 0; j < N; ++j) {
    for (int pass = 0; pass < 2; ++pass) {
      for (int64_t p = 0; p < j; ++p) {
        double dot = 0.0;
        for (int64_t i = 0; i < M; ++i) dot += v[i * N + p] * v[i * N + j];
        for (int64_t i = 0; i < M; ++i) v[i * N + j] -= dot * v[i * N + p];
      }
    }
    double norm = 0.0;
    for (int64_t i = 0; i < M; ++i) norm += v[i * N + j] * v[i * N + j];
    norm = std::sqrt(norm);
    FWP_CHECK(norm > 1e-12, "qr_q: column ", j, " is linearly dependent on the previous ones");
    for (int64_t i = 0; i < M; ++i) v[i * N + j] /= norm;
  }
  return Tensor::from_vector(v, a.shape(), a.dtype());
}

}  // namespace fwp
