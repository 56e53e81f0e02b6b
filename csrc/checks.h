// Input validation shared by every backend. The messages match nasops/ops/_validation.py
// word for word, so users (and tests) see one error whichever backend runs.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

namespace nasops {

// weighted_sum / weighted_mean: a non-empty list of equal-shape floating tensors on one
// device and dtype, and optional 1-D floating weights with one entry per input.
void check_inputs(const char* op, at::TensorList xs, const std::optional<at::Tensor>& weights);

// weighted_concat: as above but shapes may differ in `dim`. Returns `dim` made non-negative.
int64_t check_concat_inputs(
    const char* op,
    at::TensorList xs,
    const std::optional<at::Tensor>& weights,
    int64_t dim);

// The *_backward ops: `grad` matches the inputs' dtype and device, `weights` has one entry
// per input, and `xs` is either empty (no weight gradient) or one tensor per weight.
void check_backward(
    const char* op,
    const at::Tensor& grad,
    at::TensorList xs,
    const at::Tensor& weights,
    bool weight_grad);

// weighted_concat_backward: check_backward, plus `sizes` (one per weight) that add up to
// grad's extent in `dim`; a wrong call would otherwise read and write out of bounds.
void check_concat_backward(
    const at::Tensor& grad,
    at::TensorList xs,
    const at::Tensor& weights,
    int64_t dim,
    at::IntArrayRef sizes,
    bool weight_grad);

// The *_out ops: `out` has the result's `shape`, the inputs' dtype and device, and a layout
// the kernels can write (dense; contiguous for concat). It shares no memory with an input,
// except that sum and mean (`may_be_input`) may write over one input exactly.
void check_out(
    const char* op,
    const at::Tensor& out,
    at::IntArrayRef shape,
    at::TensorList xs,
    bool may_be_input,
    bool contiguous);

}  // namespace nasops
