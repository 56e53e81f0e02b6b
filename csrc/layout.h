// Output allocation rules, mirrored by nasops/ops/_layout.py so the fake kernels predict the
// real kernels' strides: an output copies the inputs' layout when they all share one dense
// layout (e.g. channels_last) and is contiguous otherwise.
#pragma once

#include <ATen/core/Tensor.h>

namespace nasops {

// Uninitialised tensor shaped like xs[0], in the layout the kernels write.
at::Tensor new_output(at::TensorList xs);

// `t` with exactly the strides of the dense tensor `like`: `t` itself when it already has
// them, otherwise a copy (the rare mixed-layout case; the common case stays copy-free).
at::Tensor in_layout(const at::Tensor& t, const at::Tensor& like);

// `t` itself when dense (flat memory order is then well defined), else a contiguous copy.
at::Tensor dense_or_contiguous(const at::Tensor& t);

}  // namespace nasops
