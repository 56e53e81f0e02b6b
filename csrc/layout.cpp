#include "layout.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>

namespace nasops {

at::Tensor new_output(at::TensorList xs) {
  const at::Tensor& ref = xs[0];
  bool shared = ref.is_non_overlapping_and_dense();
  for (size_t i = 1; shared && i < xs.size(); ++i) {
    shared = xs[i].strides() == ref.strides();
  }
  if (shared) {
    return at::empty_like(ref, at::MemoryFormat::Preserve);
  }
  return at::empty(ref.sizes(), ref.options());
}

at::Tensor in_layout(const at::Tensor& t, const at::Tensor& like) {
  if (t.strides() == like.strides()) {
    return t;
  }
  return at::empty_like(like, at::MemoryFormat::Preserve).copy_(t);
}

at::Tensor dense_or_contiguous(const at::Tensor& t) {
  return t.is_non_overlapping_and_dense() ? t : t.contiguous();
}

}  // namespace nasops
