// Broadcasting binary kernels. The fast path first merges dimensions that are laid out
// contiguously for both operands, so most calls become one flat loop or a loop of rows
// whose inner stride is 0 or 1 (the cases the compiler vectorises).
#include "kernels/cpu/binary.h"

#include <vector>

namespace fwp::kernels {

namespace {

template <typename T, typename F>
void dispatch_op(BinaryOp op, F&& body) {
  switch (op) {
    case BinaryOp::add: body([](T x, T y) { return x + y; }); break;
    case BinaryOp::sub: body([](T x, T y) { return x - y; }); break;
    case BinaryOp::mul: body([](T x, T y) { return x * y; }); break;
    case BinaryOp::div: body([](T x, T y) { return x / y; }); break;
  }
}

// One innermost row: n elements, operand strides sa and sb (0 or 1 in the common cases).
template <typename T, typename F>
inline void binary_row(T* out, const T* a, const T* b, int64_t n, int64_t sa, int64_t sb, F f) {
  if (sa == 1 && sb == 1) {
    for (int64_t j = 0; j < n; ++j) out[j] = f(a[j], b[j]);
  } else if (sa == 1 && sb == 0) {
    T y = b[0];
    for (int64_t j = 0; j < n; ++j) out[j] = f(a[j], y);
  } else if (sa == 0 && sb == 1) {
    T x = a[0];
    for (int64_t j = 0; j < n; ++j) out[j] = f(x, b[j]);
  } else {
    for (int64_t j = 0; j < n; ++j) out[j] = f(a[j * sa], b[j * sb]);
  }
}

}  // namespace

template <typename T>
void binary_forward(T* out, const T* a, const T* b, BinaryOp op, const int64_t* shape,
                    const int64_t* a_strides, const int64_t* b_strides, int ndim) {
  // pass 1: drop size-1 dims and merge dim i into i+1 when both operands are contiguous across them
  std::vector<int64_t> sh, sa, sb;
  for (int i = 0; i < ndim; ++i) {
    if (shape[i] == 1) continue;
    if (!sh.empty() && sa.back() == a_strides[i] * shape[i] && sb.back() == b_strides[i] * shape[i]) {
      sh.back() *= shape[i];
      sa.back() = a_strides[i];
      sb.back() = b_strides[i];
    } else {
      sh.push_back(shape[i]);
      sa.push_back(a_strides[i]);
      sb.push_back(b_strides[i]);
    }
  }
  if (sh.empty()) {  // a scalar result
    sh = {1};
    sa = {0};
    sb = {0};
  }
  // pass 2: loop over rows (all dims but the last), each row a vectorisable inner loop
  const int nd = static_cast<int>(sh.size());
  const int64_t inner = sh[nd - 1];
  int64_t rows = 1;
  for (int i = 0; i < nd - 1; ++i) rows *= sh[i];
  dispatch_op<T>(op, [&](auto f) {
#pragma omp parallel for schedule(static) if (rows * inner > 32768 && rows > 1)
    for (int64_t r = 0; r < rows; ++r) {
      int64_t oa = 0, ob = 0, rem = r;
      for (int i = nd - 2; i >= 0; --i) {  // row number -> operand offsets
        int64_t idx = rem % sh[i];
        rem /= sh[i];
        oa += idx * sa[i];
        ob += idx * sb[i];
      }
      binary_row(out + r * inner, a + oa, b + ob, inner, sa[nd - 1], sb[nd - 1], f);
    }
  });
}

template <typename T>
void binary_forward_naive(T* out, const T* a, const T* b, BinaryOp op, const int64_t* shape,
                          const int64_t* a_strides, const int64_t* b_strides, int ndim) {
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= shape[i];
  dispatch_op<T>(op, [&](auto f) {
    for (int64_t e = 0; e < n; ++e) {
      int64_t oa = 0, ob = 0, rem = e;
      for (int i = ndim - 1; i >= 0; --i) {
        int64_t idx = rem % shape[i];
        rem /= shape[i];
        oa += idx * a_strides[i];
        ob += idx * b_strides[i];
      }
      out[e] = f(a[oa], b[ob]);
    }
  });
}

template <typename T>
void binary_scalar(T* out, const T* a, T s, BinaryOp op, int64_t n) {
  dispatch_op<T>(op, [&](auto f) {
    // Private copies of the pointers (firstprivate): read through the lambda's references they
    // would be re-loaded every iteration and a[i] vectorised as a gather (see kernels/cpu/unary.cpp).
    T* o = out;
    const T* x = a;
    const T v = s;
#pragma omp parallel for simd schedule(static) if (parallel : n > 65536) firstprivate(o, x, v, f)
    for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], v);
  });
}

template <typename T>
void axpy(T* out, const T* x, T alpha, int64_t n) {
#pragma omp parallel for simd schedule(static) if (parallel : n > 65536)
  for (int64_t i = 0; i < n; ++i) out[i] += alpha * x[i];
}

#define FWP_INSTANTIATE(T)                                                                    \
  template void binary_forward<T>(T*, const T*, const T*, BinaryOp, const int64_t*,         \
                                  const int64_t*, const int64_t*, int);                     \
  template void binary_forward_naive<T>(T*, const T*, const T*, BinaryOp, const int64_t*,   \
                                        const int64_t*, const int64_t*, int);               \
  template void binary_scalar<T>(T*, const T*, T, BinaryOp, int64_t);                       \
  template void axpy<T>(T*, const T*, T, int64_t);
FWP_INSTANTIATE(float)
FWP_INSTANTIATE(double)
#undef FWP_INSTANTIATE

}  // namespace fwp::kernels
