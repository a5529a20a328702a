// DeltaProduct on the device (kernels/delta_product.h). Its n writes per token are the delta
// rule over the T n write rows with a read only after the last write of each token, so both
// directions run the delta rule's CUDA kernels on the T n rows with an "all rows" query that is
// q_t at row t n + n - 1 and zero elsewhere: a zero query reads nothing (its y row is dropped)
// and, with a zero upstream gradient in that row, adds nothing to any gradient. The rows that
// are read are moved in and out with copy_rows_cuda (kernels/cuda/layout.h): seen as (BH T)
// rows of n Dk values, row t n + n - 1 of a sequence is the last Dk-wide block of row t.
#include "kernels/cuda/check.h"
#include "kernels/cuda/layout.h"
#include "kernels/cuda/runtime.h"
#include "kernels/delta_product.h"
#include "kernels/delta_rule.h"

namespace fwp::kernels {

namespace {

// Device memory for the length of one call (from the caching allocator), zeroed or not.
template <typename Real>
class Scratch {
 public:
  Scratch(int64_t n, bool zero, const char* op) : bytes_(size_t(n) * sizeof(Real)) {
    ptr_ = static_cast<Real*>(cuda::device_alloc(bytes_));
    if (zero) {
      try {
        cuda::memset_device(ptr_, 0, bytes_, op);
      } catch (...) {
        cuda::device_free(ptr_, bytes_);
        throw;
      }
    }
  }
  ~Scratch() { cuda::device_free(ptr_, bytes_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  Real* get() const { return ptr_; }

 private:
  size_t bytes_;
  Real* ptr_ = nullptr;
};

// x (BH T, D) into rows t n + n - 1 of all (BH T n, D), or back.
template <typename Real>
void spread_rows(Real* all, const Real* x, int64_t BHT, int64_t n, int64_t D) {
  copy_rows_cuda<Real>(all + (n - 1) * D, n * D, x, D, BHT, D);
}
template <typename Real>
void gather_rows(Real* x, const Real* all, int64_t BHT, int64_t n, int64_t D) {
  copy_rows_cuda<Real>(x, D, all + (n - 1) * D, n * D, BHT, D);
}

}  // namespace

template <typename Real>
void delta_product_forward_cuda(Real* y, Real* WT, Real* d, const Real* q, const Real* k,
                                const Real* v, const Real* beta, const Real* W0, int64_t BH,
                                int64_t T, int64_t n, int64_t Dk, int64_t Dv) {
  const char* op = "delta_product_forward_cuda";
  FWP_CHECK(n >= 1, op, ": n must be >= 1, got ", n);
  const int64_t S = T * n;
  Scratch<Real> q_all(BH * S * Dk, true, op), y_all(BH * S * Dv, false, op);
  if (q) spread_rows(q_all.get(), q, BH * T, n, Dk);
  delta_rule_forward_cuda<Real>(y_all.get(), WT, d, q_all.get(), k, v, beta, W0, BH, S, Dk, Dv,
                                nullptr);
  if (y) gather_rows(y, y_all.get(), BH * T, n, Dv);
}

template <typename Real>
void delta_product_backward_cuda(Real* dq, Real* dk, Real* dv, Real* dbeta, Real* dW0,
                                 const Real* grad_y, const Real* grad_WT, const Real* q,
                                 const Real* k, const Real* beta, const Real* d, const Real* WT,
                                 int64_t BH, int64_t T, int64_t n, int64_t Dk, int64_t Dv) {
  const char* op = "delta_product_backward_cuda";
  FWP_CHECK(n >= 1, op, ": n must be >= 1, got ", n);
  const int64_t S = T * n;
  Scratch<Real> q_all(BH * S * Dk, true, op), dq_all(BH * S * Dk, false, op);
  Scratch<Real> gy_all(grad_y ? BH * S * Dv : 0, true, op);
  Scratch<Real> dW0_unused(dW0 ? 0 : BH * Dv * Dk, false, op);
  Scratch<Real> ws(delta_rule_workspace_size_cuda<Real>(BH, S, Dk, Dv), false, op);
  if (q) spread_rows(q_all.get(), q, BH * T, n, Dk);
  if (grad_y) spread_rows(gy_all.get(), grad_y, BH * T, n, Dv);
  delta_rule_backward_cuda<Real>(dq_all.get(), dk, dv, dbeta, dW0 ? dW0 : dW0_unused.get(),
                                 grad_y ? gy_all.get() : nullptr, grad_WT, q_all.get(), k, beta,
                                 d, WT, BH, S, Dk, Dv, ws.get());
  if (dq) gather_rows(dq, dq_all.get(), BH * T, n, Dk);
}

#define FWP_INSTANTIATE(R)                                                                     \
  template void delta_product_forward_cuda<R>(R*, R*, R*, const R*, const R*, const R*,       \
                                              const R*, const R*, int64_t, int64_t, int64_t,  \
                                              int64_t, int64_t);                              \
  template void delta_product_backward_cuda<R>(R*, R*, R*, R*, R*, const R*, const R*,        \
                                               const R*, const R*, const R*, const R*,        \
                                               const R*, int64_t, int64_t, int64_t, int64_t,  \
                                               int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
