// The element arithmetic of every kernel, host and device alike, so the CPU tests exercise
// the same math the CUDA kernels run. Half types accumulate in float32, float64 in float64.
#pragma once

#include <ATen/OpMathType.h>
#include <c10/macros/Macros.h>

namespace nasops {

template <typename scalar_t>
using acc_t = at::opmath_type<scalar_t>;

// One term of the weighted sum: acc + w·x, in the accumulation type.
template <typename scalar_t>
C10_HOST_DEVICE inline acc_t<scalar_t> accumulate(acc_t<scalar_t> acc, acc_t<scalar_t> w, scalar_t x) {
  return acc + w * static_cast<acc_t<scalar_t>>(x);
}

// The stored result: the accumulated sum times the op's scale (1 for sum, 1/K for mean).
template <typename scalar_t>
C10_HOST_DEVICE inline scalar_t finish(acc_t<scalar_t> acc, acc_t<scalar_t> scale) {
  return static_cast<scalar_t>(acc * scale);
}

// A weight times the op's scale, formed in double and rounded once to the accumulation type.
template <typename acc>
C10_HOST_DEVICE inline acc scaled_weight(double w, double scale) {
  return static_cast<acc>(w * scale);
}

// grad x_i = (scale·w_i)·g, with `scaled_w` = scale·w_i precomputed.
template <typename scalar_t>
C10_HOST_DEVICE inline scalar_t scale_grad(acc_t<scalar_t> scaled_w, scalar_t g) {
  return static_cast<scalar_t>(scaled_w * static_cast<acc_t<scalar_t>>(g));
}

// One term of the dot product <g, x_i>.
template <typename scalar_t>
C10_HOST_DEVICE inline acc_t<scalar_t> dot_term(acc_t<scalar_t> acc, scalar_t g, scalar_t x) {
  return acc + static_cast<acc_t<scalar_t>>(g) * static_cast<acc_t<scalar_t>>(x);
}

}  // namespace nasops
