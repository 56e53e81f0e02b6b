#include "prepare.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>

#include "checks.h"
#include "layout.h"

namespace nasops {
namespace {

std::vector<at::Tensor> contiguous(at::TensorList ts) {
  std::vector<at::Tensor> out;
  out.reserve(ts.size());
  for (const auto& t : ts) {
    out.push_back(t.contiguous());
  }
  return out;
}

}  // namespace

SumProblem prepare_sum(
    const char* op,
    at::TensorList xs,
    const std::optional<at::Tensor>& weights,
    bool mean) {
  check_inputs(op, xs, weights);
  SumProblem p{new_output(xs), {}, mean ? 1.0 / static_cast<double>(xs.size()) : 1.0};
  p.inputs.reserve(xs.size());
  for (const auto& x : xs) {
    p.inputs.push_back(in_layout(x, p.out));
  }
  return p;
}

ConcatProblem prepare_concat(
    at::TensorList xs,
    const std::optional<at::Tensor>& weights,
    int64_t dim) {
  ConcatProblem p;
  p.dim = check_concat_inputs("weighted_concat", xs, weights, dim);
  p.inputs = contiguous(xs);
  std::vector<int64_t> shape = p.inputs[0].sizes().vec();
  shape[p.dim] = 0;
  for (const auto& x : p.inputs) {
    p.sizes.push_back(x.size(p.dim));
    shape[p.dim] += x.size(p.dim);
  }
  p.out = at::empty(shape, p.inputs[0].options());
  return p;
}

BackwardProblem prepare_sum_backward(
    const at::Tensor& grad,
    at::TensorList xs,
    const at::Tensor& weights,
    bool input_grads,
    bool weight_grad) {
  check_backward("weighted_sum_backward", grad, xs, weights, weight_grad);
  BackwardProblem p{dense_or_contiguous(grad), {}, {}, weights.size(0)};
  if (weight_grad) {
    for (const auto& x : xs) {
      p.inputs.push_back(in_layout(x, p.grad));
    }
  }
  if (input_grads) {
    for (int64_t t = 0; t < p.k; ++t) {
      p.grads.push_back(at::empty_like(p.grad, at::MemoryFormat::Preserve));
    }
  }
  return p;
}

BackwardProblem prepare_concat_backward(
    const at::Tensor& grad,
    at::TensorList xs,
    const at::Tensor& weights,
    int64_t dim,
    at::IntArrayRef sizes,
    bool input_grads,
    bool weight_grad) {
  check_concat_backward(grad, xs, weights, dim, sizes, weight_grad);
  BackwardProblem p{grad.contiguous(), {}, {}, weights.size(0)};
  if (weight_grad) {
    p.inputs = contiguous(xs);
  }
  if (input_grads) {
    for (int64_t t = 0; t < p.k; ++t) {
      std::vector<int64_t> shape = p.grad.sizes().vec();
      shape[dim] = sizes[t];
      p.grads.push_back(at::empty(shape, p.grad.options()));
    }
  }
  return p;
}

int64_t outer_size(at::IntArrayRef shape, int64_t dim) {
  int64_t outer = 1;
  for (int64_t d = 0; d < dim; ++d) {
    outer *= shape[d];
  }
  return outer;
}

int64_t inner_size(at::IntArrayRef shape, int64_t dim) {
  int64_t inner = 1;
  for (int64_t d = dim + 1; d < static_cast<int64_t>(shape.size()); ++d) {
    inner *= shape[d];
  }
  return inner;
}

}  // namespace nasops
