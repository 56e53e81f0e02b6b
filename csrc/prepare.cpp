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
    bool mean,
    const at::Tensor* out) {
  check_inputs(op, xs, weights);
  if (out != nullptr) {
    check_out(op, *out, xs[0].sizes(), xs, /*may_be_input=*/true, /*contiguous=*/false);
  }
  const double scale = mean ? 1.0 / static_cast<double>(xs.size()) : 1.0;
  SumProblem p{out != nullptr ? *out : new_output(xs), {}, scale};
  p.inputs.reserve(xs.size());
  for (const auto& x : xs) {
    p.inputs.push_back(in_layout(x, p.out));
  }
  return p;
}

ConcatProblem prepare_concat(
    at::TensorList xs,
    const std::optional<at::Tensor>& weights,
    int64_t dim,
    const at::Tensor* out) {
  const char* op = out != nullptr ? "weighted_concat_out" : "weighted_concat";
  ConcatProblem p;
  p.dim = check_concat_inputs(op, xs, weights, dim);
  std::vector<int64_t> shape = xs[0].sizes().vec();
  shape[p.dim] = 0;
  for (const auto& x : xs) {
    p.sizes.push_back(x.size(p.dim));
    shape[p.dim] += x.size(p.dim);
  }
  if (out != nullptr) {
    check_out(op, *out, shape, xs, /*may_be_input=*/false, /*contiguous=*/true);
  }
  p.inputs = contiguous(xs);
  p.out = out != nullptr ? *out : at::empty(shape, p.inputs[0].options());
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
