// CPU kernels of weighted_concat and its backward.
//
// The contiguous output is viewed as [outer, Σ size_i · inner]: every row is the K inputs'
// runs side by side. Work is split over output elements, and each range is walked segment by
// segment (one contiguous run of one input), so any dim and any K balance across threads.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "../element_math.h"
#include "../entry_points.h"
#include "../prepare.h"
#include "cpu_common.h"

namespace nasops::cpu {
namespace {

// The concatenation seen as rows: input t covers columns [offsets[t], offsets[t + 1]).
struct RowLayout {
  int64_t row = 0;
  std::vector<int64_t> offsets;

  RowLayout(at::IntArrayRef sizes, int64_t inner) : offsets{0} {
    for (int64_t size : sizes) {
      offsets.push_back(offsets.back() + size * inner);
    }
    row = offsets.back();
  }

  int64_t run(size_t t) const {
    return offsets[t + 1] - offsets[t];
  }

  // Calls f(t, src_offset, dst_offset, len) for each run of one input inside [begin, end),
  // where src_offset indexes input t and dst_offset the concatenation.
  template <typename F>
  void for_each_segment(int64_t begin, int64_t end, F&& f) const {
    for (int64_t e = begin; e < end;) {
      const int64_t o = e / row;
      const int64_t r = e - o * row;
      const auto t = static_cast<size_t>(
          std::upper_bound(offsets.begin(), offsets.end(), r) - offsets.begin() - 1);
      const int64_t len = std::min(end - e, offsets[t + 1] - r);
      f(t, o * run(t) + (r - offsets[t]), e, len);
      e += len;
    }
  }
};

// o[j] = w·x[j] over one run of one input.
template <typename scalar_t>
NASOPS_CPU_CLONES void scale_run(const scalar_t* x, acc_t<scalar_t> w, int64_t len, scalar_t* o) {
  using acc = acc_t<scalar_t>;
  for (int64_t j = 0; j < len; ++j) {
    o[j] = finish<scalar_t>(accumulate<scalar_t>(acc(0), w, x[j]), acc(1));
  }
}

// One run of one input in the backward: grad_x[j] = w·g[j] when grad_x is given, and <g, x>
// added to *dot_sum when x is.
template <typename scalar_t>
NASOPS_CPU_CLONES void backward_run(
    const scalar_t* g,
    const scalar_t* x,
    acc_t<scalar_t> w,
    int64_t len,
    scalar_t* grad_x,
    acc_t<scalar_t>* dot_sum) {
  if (grad_x != nullptr) {
    scale_grads<scalar_t>(g, w, len, grad_x);
  }
  if (x != nullptr) {
    *dot_sum += dot<scalar_t>(g, x, len);
  }
}

// Writes each scaled input into its slice of p.out (non-empty).
void concat_forward(ConcatProblem& p, const OptionalTensor& weights) {
  const at::Tensor& out = p.out;
  const std::vector<at::Tensor>& inputs = p.inputs;
  const RowLayout layout(p.sizes, inner_size(out.sizes(), p.dim));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, out.scalar_type(), "weighted_concat", [&] {
    using acc = acc_t<scalar_t>;
    const auto k = static_cast<int64_t>(inputs.size());
    const std::vector<acc> w = host_weights<acc>(weights, k, 1.0);
    scalar_t* dst = out.data_ptr<scalar_t>();
    map_fresh_pages(dst, out.nbytes());
    at::parallel_for(0, out.numel(), kGrain, [&](int64_t begin, int64_t end) {
      layout.for_each_segment(begin, end, [&](size_t t, int64_t src, int64_t at, int64_t len) {
        scale_run<scalar_t>(inputs[t].const_data_ptr<scalar_t>() + src, w[t], len, dst + at);
      });
    });
  });
}

std::tuple<std::vector<at::Tensor>, at::Tensor> weighted_concat_backward(
    const at::Tensor& grad,
    at::TensorList xs,
    const at::Tensor& weights,
    int64_t dim,
    at::IntArrayRef sizes,
    bool input_grads,
    bool weight_grad) {
  BackwardProblem p = prepare_concat_backward(grad, xs, weights, dim, sizes, input_grads, weight_grad);
  const int64_t k = p.k;
  const at::Tensor& g = p.grad;
  const std::vector<at::Tensor>& inputs = p.inputs;
  std::vector<at::Tensor>& grads = p.grads;
  const int64_t n = g.numel();
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partials(static_cast<size_t>(chunks * k), 0.0);
  if (p.has_work()) {
    const RowLayout layout(sizes, inner_size(g.sizes(), dim));
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, g.scalar_type(), "weighted_concat_backward", [&] {
      using acc = acc_t<scalar_t>;
      const std::vector<acc> w = host_weights<acc>(weights, k, 1.0);
      const scalar_t* gp = g.const_data_ptr<scalar_t>();
      if (input_grads) {
        for (auto& grad_x : grads) {
          map_fresh_pages(grad_x.data_ptr(), grad_x.nbytes());
        }
      }
      at::parallel_for(0, chunks, 1, [&](int64_t first, int64_t last) {
        for (int64_t c = first; c < last; ++c) {
          std::vector<acc> sums(static_cast<size_t>(k), acc(0));
          const int64_t end = std::min(n, (c + 1) * kChunk);
          layout.for_each_segment(c * kChunk, end, [&](size_t t, int64_t src, int64_t at, int64_t len) {
            scalar_t* grad_x = input_grads ? grads[t].data_ptr<scalar_t>() + src : nullptr;
            const scalar_t* x = weight_grad ? inputs[t].const_data_ptr<scalar_t>() + src : nullptr;
            backward_run<scalar_t>(gp + at, x, w[t], len, grad_x, &sums[t]);
          });
          for (int64_t t = 0; t < k; ++t) {
            partials[static_cast<size_t>(c * k + t)] = static_cast<double>(sums[t]);
          }
        }
      });
    });
  }
  at::Tensor grad_w = weight_grad
      ? combine_partials(partials, chunks, k, 1.0, weights.options())
      : weights.new_empty({0});
  return {grads, grad_w};
}

}  // namespace

TORCH_LIBRARY_IMPL(nasops, CPU, m) {
  ConcatOps<&concat_forward>::register_in(m);
  m.impl("weighted_concat_backward", &weighted_concat_backward);
}

}  // namespace nasops::cpu
