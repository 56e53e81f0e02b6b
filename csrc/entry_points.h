// The forward ops' entry points, written once for every backend: validate and allocate
// (prepare.h), skip empty outputs, and hand the prepared problem to the backend's compute
// function. The `*_out` ops are the same calls with the caller's tensor as the output.
#pragma once

#include <torch/library.h>

#include <optional>

#include "prepare.h"

namespace nasops {

using OptionalTensor = std::optional<at::Tensor>;

// weighted_sum, weighted_mean and their *_out ops over `compute`, which fills p.out.
template <void (*compute)(SumProblem& p, const OptionalTensor& weights)>
struct SumOps {
  static at::Tensor run(
      const char* op,
      at::TensorList xs,
      const OptionalTensor& weights,
      bool mean,
      const at::Tensor* into) {
    SumProblem p = prepare_sum(op, xs, weights, mean, into);
    if (p.out.numel() > 0) {
      compute(p, weights);
    }
    return p.out;
  }
  static at::Tensor sum(at::TensorList xs, const OptionalTensor& weights) {
    return run("weighted_sum", xs, weights, false, nullptr);
  }
  static at::Tensor mean(at::TensorList xs, const OptionalTensor& weights) {
    return run("weighted_mean", xs, weights, true, nullptr);
  }
  static void sum_out(at::TensorList xs, const OptionalTensor& weights, at::Tensor& out) {
    run("weighted_sum_out", xs, weights, false, &out);
  }
  static void mean_out(at::TensorList xs, const OptionalTensor& weights, at::Tensor& out) {
    run("weighted_mean_out", xs, weights, true, &out);
  }
  static void register_in(torch::Library& m) {
    m.impl("weighted_sum", &sum);
    m.impl("weighted_mean", &mean);
    m.impl("weighted_sum_out", &sum_out);
    m.impl("weighted_mean_out", &mean_out);
  }
};

// weighted_concat and weighted_concat_out over `compute`, which fills p.out.
template <void (*compute)(ConcatProblem& p, const OptionalTensor& weights)>
struct ConcatOps {
  static at::Tensor run(
      at::TensorList xs,
      const OptionalTensor& weights,
      int64_t dim,
      const at::Tensor* into) {
    ConcatProblem p = prepare_concat(xs, weights, dim, into);
    if (p.out.numel() > 0) {
      compute(p, weights);
    }
    return p.out;
  }
  static at::Tensor concat(at::TensorList xs, const OptionalTensor& weights, int64_t dim) {
    return run(xs, weights, dim, nullptr);
  }
  static void concat_out(
      at::TensorList xs,
      const OptionalTensor& weights,
      int64_t dim,
      at::Tensor& out) {
    run(xs, weights, dim, &out);
  }
  static void register_in(torch::Library& m) {
    m.impl("weighted_concat", &concat);
    m.impl("weighted_concat_out", &concat_out);
  }
};

}  // namespace nasops
