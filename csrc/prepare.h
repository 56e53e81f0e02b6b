// What every backend does before its kernel runs: validate, allocate the outputs in the layout
// the fake kernels predict (layout.h), and bring the inputs into that layout. The CPU and CUDA
// kernels differ only in what they then compute.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

namespace nasops {

// weighted_sum / weighted_mean.
struct SumProblem {
  at::Tensor out;                  // uninitialised
  std::vector<at::Tensor> inputs;  // in out's layout
  double scale;                    // 1 for sum, 1/K for mean
};
// `out`: the caller's tensor (the *_out ops), or nullptr for a new one.
SumProblem prepare_sum(
    const char* op,
    at::TensorList xs,
    const std::optional<at::Tensor>& weights,
    bool mean,
    const at::Tensor* out);

// weighted_concat: a contiguous output, contiguous inputs.
struct ConcatProblem {
  at::Tensor out;                  // uninitialised
  std::vector<at::Tensor> inputs;
  std::vector<int64_t> sizes;      // each input's extent in dim
  int64_t dim;                     // non-negative
};
ConcatProblem prepare_concat(
    at::TensorList xs,
    const std::optional<at::Tensor>& weights,
    int64_t dim,
    const at::Tensor* out);

// The *_backward ops.
struct BackwardProblem {
  at::Tensor grad;                 // dense (sum) or contiguous (concat)
  std::vector<at::Tensor> inputs;  // the saved inputs in grad's layout; empty unless weight_grad
  std::vector<at::Tensor> grads;   // uninitialised input gradients; empty unless input_grads
  int64_t k;                       // the number of weights

  // Whether any element is to be read or written.
  bool has_work() const {
    return grad.numel() > 0 && (!grads.empty() || !inputs.empty());
  }
};
BackwardProblem prepare_sum_backward(
    const at::Tensor& grad,
    at::TensorList xs,
    const at::Tensor& weights,
    bool input_grads,
    bool weight_grad);
BackwardProblem prepare_concat_backward(
    const at::Tensor& grad,
    at::TensorList xs,
    const at::Tensor& weights,
    int64_t dim,
    at::IntArrayRef sizes,
    bool input_grads,
    bool weight_grad);

// The extent of `shape` before and after `dim` (the concatenation's rows and row tails).
int64_t outer_size(at::IntArrayRef shape, int64_t dim);
int64_t inner_size(at::IntArrayRef shape, int64_t dim);

}  // namespace nasops
