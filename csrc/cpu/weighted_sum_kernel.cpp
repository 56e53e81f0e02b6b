// CPU kernels of weighted_sum, weighted_mean and their shared backward.
//
// Forward: at::parallel_for over the output; each tile of kTile elements adds the K input tiles
// a few at a time into an L1 tile and writes the output once. Backward: one pass over fixed-size
// chunks that reads g and each x_i once, writes every grad x_i and keeps per-chunk partial
// dot products, summed afterwards in chunk order (deterministic). Large outputs are mapped
// before the pass and written with streaming stores (cpu_common.h).
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty_like.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "../element_math.h"
#include "../entry_points.h"
#include "../prepare.h"
#include "cpu_common.h"

namespace nasops::cpu {
namespace {

template <typename scalar_t>
std::vector<const scalar_t*> pointers(const std::vector<at::Tensor>& ts) {
  std::vector<const scalar_t*> out;
  out.reserve(ts.size());
  for (const auto& t : ts) {
    out.push_back(t.const_data_ptr<scalar_t>());
  }
  return out;
}

// Inputs [0, G) of one tile, at element offset i, added in input order to the running sums
// (kFirst: starting from zero), which stay in `sums` or, for the last group (kLast), are
// scaled and written to `o`. Every element keeps its sum in a register across the group.
template <typename scalar_t, int G, bool kFirst, bool kLast>
NASOPS_CPU_INLINE void add_group(
    const scalar_t* const* in,
    const acc_t<scalar_t>* w,
    acc_t<scalar_t> s,
    int64_t i,
    int64_t len,
    acc_t<scalar_t>* sums,
    scalar_t* o) {
  using acc = acc_t<scalar_t>;
  const scalar_t* x[G];
  acc wt[G];
  for (int t = 0; t < G; ++t) {
    x[t] = in[t] + i;
    wt[t] = w[t];
  }
  for (int64_t j = 0; j < len; ++j) {
    acc v = accumulate<scalar_t>(kFirst ? acc(0) : sums[j], wt[0], x[0][j]);
    for (int t = 1; t < G; ++t) {
      v = accumulate<scalar_t>(v, wt[t], x[t][j]);
    }
    if constexpr (kLast) {
      o[j] = finish<scalar_t>(v, s);
    } else {
      sums[j] = v;
    }
  }
}

// Inputs per group in a tile. Measured on the reference VM at K = 8 against TRIAD: all eight
// inputs at once ran at 0.85-0.88 when the machine was quiet (L1 conflicts between the
// streams), pairs at 0.6-0.7 when other tenants loaded the memory (too few misses in flight);
// groups of four were within 3 % of the better choice in both states. The AVX2 build keeps
// that order (2 threads at 2^24: fours 16.2 ms, pairs 16.1, all eight 17.3).
constexpr int kGroup = 4;

// The group of the first g (1..kGroup) inputs.
template <typename scalar_t, bool kLast>
NASOPS_CPU_INLINE void first_group(
    int64_t g,
    const scalar_t* const* in,
    const acc_t<scalar_t>* w,
    acc_t<scalar_t> s,
    int64_t i,
    int64_t len,
    acc_t<scalar_t>* sums,
    scalar_t* o) {
  switch (g) {
    case 1: return add_group<scalar_t, 1, true, kLast>(in, w, s, i, len, sums, o);
    case 2: return add_group<scalar_t, 2, true, kLast>(in, w, s, i, len, sums, o);
    case 3: return add_group<scalar_t, 3, true, kLast>(in, w, s, i, len, sums, o);
    default: return add_group<scalar_t, kGroup, true, kLast>(in, w, s, i, len, sums, o);
  }
}

// One tile of the output: the K inputs are read in groups of kGroup (the first group takes
// the remainder), each group's sums kept in an L1 tile for the next. Each element is summed
// in input order, whatever the grouping.
template <typename scalar_t>
NASOPS_CPU_INLINE void sum_tile(
    const scalar_t* const* in,
    const acc_t<scalar_t>* w,
    int64_t k,
    acc_t<scalar_t> s,
    int64_t i,
    int64_t len,
    scalar_t* o) {
  if (k <= kGroup) {
    return first_group<scalar_t, true>(k, in, w, s, i, len, nullptr, o);
  }
  acc_t<scalar_t> sums[kTile];
  int64_t t = (k - 1) % kGroup + 1;
  first_group<scalar_t, false>(t, in, w, s, i, len, sums, o);
  for (; t + kGroup < k; t += kGroup) {
    add_group<scalar_t, kGroup, false, false>(in + t, w + t, s, i, len, sums, o);
  }
  add_group<scalar_t, kGroup, false, true>(in + t, w + t, s, i, len, sums, o);
}

// What one forward pass reads and writes.
template <typename scalar_t>
struct SumPass {
  const scalar_t* const* in;    // the K inputs
  const acc_t<scalar_t>* w;     // their weights
  int64_t k;
  acc_t<scalar_t> scale;
  int64_t n;                    // elements per input
  bool stream;                  // write full tiles with streaming stores
  scalar_t* dst;
};

// Tiles [first, last) of the output (the last one may be partial), then one fence if any was
// streamed: one thread's share of the forward.
template <typename scalar_t>
NASOPS_CPU_CLONES void sum_tiles(const SumPass<scalar_t>& p, int64_t first, int64_t last) {
  bool streamed = false;
  for (int64_t tile = first; tile < last; ++tile) {
    const int64_t i = tile * kTile;
    const int64_t len = std::min(kTile, p.n - i);
    streamed |= write_tile(p.dst + i, len, p.stream, [&](scalar_t* o) NASOPS_CPU_INLINE_LAMBDA {
      sum_tile<scalar_t>(p.in, p.w, p.k, p.scale, i, len, o);
    });
  }
  if (streamed) {
    streaming_fence();
  }
}

template <typename scalar_t>
void sum_forward(
    const std::vector<at::Tensor>& xs,
    const std::optional<at::Tensor>& weights,
    double scale,
    at::Tensor& out) {
  using acc = acc_t<scalar_t>;
  const int64_t k = static_cast<int64_t>(xs.size());
  const int64_t n = out.numel();
  const std::vector<acc> w = host_weights<acc>(weights, k, 1.0);
  const std::vector<const scalar_t*> in = pointers<scalar_t>(xs);
  scalar_t* dst = out.data_ptr<scalar_t>();
  const int64_t bytes = n * static_cast<int64_t>(sizeof(scalar_t));
  map_fresh_pages(dst, bytes);
  const SumPass<scalar_t> pass{
      in.data(), w.data(), k, static_cast<acc>(scale), n, use_streaming(dst, bytes), dst};

  // Parallel over whole tiles, so every tile starts on the (aligned) allocation's grid.
  const int64_t tiles = (n + kTile - 1) / kTile;
  at::parallel_for(0, tiles, kGrain / kTile, [&](int64_t first, int64_t last) {
    sum_tiles<scalar_t>(pass, first, last);
  });
}

// weighted_sum (scale 1) or weighted_mean (1/K) of p.inputs into p.out (non-empty).
void scaled_sum(SumProblem& p, const OptionalTensor& weights) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, p.out.scalar_type(), "weighted_sum", [&] {
    sum_forward<scalar_t>(p.inputs, weights, p.scale, p.out);
  });
}

// What one backward pass reads and writes.
template <typename scalar_t>
struct SumBackwardPass {
  const scalar_t* g;
  const scalar_t* const* in;    // inputs whose <g, x_i> is wanted (none without weight grad)
  int64_t k_in;
  const acc_t<scalar_t>* w;     // scale·w_i
  scalar_t* const* grads;       // grad x_i to write (none without input grads)
  int64_t k_grads;
  int64_t k;
  int64_t n;
  bool stream;                  // write full tiles of the grads with streaming stores
  double* partials;             // [chunk][k]
};

// Backward chunks [first, last): every grad x_i = w_i·g of the chunk, and its partial
// <g, x_i>; then one fence if any tile was streamed.
template <typename scalar_t>
NASOPS_CPU_CLONES void backward_chunks(
    const SumBackwardPass<scalar_t>& p,
    int64_t first,
    int64_t last) {
  using acc = acc_t<scalar_t>;
  bool streamed = false;
  for (int64_t c = first; c < last; ++c) {
    const int64_t begin = c * kChunk;
    const int64_t end = std::min(p.n, begin + kChunk);
    std::vector<acc> dots(static_cast<size_t>(p.k_in), acc(0));
    for (int64_t i = begin; i < end; i += kTile) {
      const int64_t len = std::min(kTile, end - i);
      const scalar_t* gi = p.g + i;
      for (int64_t t = 0; t < p.k_grads; ++t) {
        const acc wt = p.w[t];
        streamed |= write_tile(p.grads[t] + i, len, p.stream, [&](scalar_t* o) NASOPS_CPU_INLINE_LAMBDA {
          scale_grads<scalar_t>(gi, wt, len, o);
        });
      }
      for (int64_t t = 0; t < p.k_in; ++t) {
        dots[t] += dot<scalar_t>(gi, p.in[t] + i, len);
      }
    }
    for (int64_t t = 0; t < p.k_in; ++t) {
      p.partials[c * p.k + t] = static_cast<double>(dots[t]);
    }
  }
  if (streamed) {
    streaming_fence();
  }
}

template <typename scalar_t>
void sum_backward(
    const at::Tensor& grad,
    const std::vector<at::Tensor>& xs,
    const std::vector<acc_t<scalar_t>>& scaled_w,
    std::vector<at::Tensor>& grads,
    std::vector<double>& partials,
    int64_t chunks) {
  const int64_t n = grad.numel();
  const std::vector<const scalar_t*> in = pointers<scalar_t>(xs);
  const int64_t bytes = n * static_cast<int64_t>(sizeof(scalar_t));
  std::vector<scalar_t*> out;
  bool stream = true;
  for (auto& t : grads) {
    out.push_back(t.data_ptr<scalar_t>());
    map_fresh_pages(out.back(), bytes);
    stream = stream && use_streaming(out.back(), bytes);
  }
  const SumBackwardPass<scalar_t> pass{
      grad.const_data_ptr<scalar_t>(),
      in.data(),
      static_cast<int64_t>(in.size()),
      scaled_w.data(),
      out.data(),
      static_cast<int64_t>(out.size()),
      static_cast<int64_t>(scaled_w.size()),
      n,
      stream,
      partials.data()};
  at::parallel_for(0, chunks, 1, [&](int64_t first, int64_t last) {
    backward_chunks<scalar_t>(pass, first, last);
  });
}

std::tuple<std::vector<at::Tensor>, at::Tensor> weighted_sum_backward(
    const at::Tensor& grad,
    at::TensorList xs,
    const at::Tensor& weights,
    double scale,
    bool input_grads,
    bool weight_grad) {
  BackwardProblem p = prepare_sum_backward(grad, xs, weights, input_grads, weight_grad);
  const int64_t chunks = (p.grad.numel() + kChunk - 1) / kChunk;
  std::vector<double> partials(static_cast<size_t>(chunks * p.k), 0.0);
  if (p.has_work()) {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, p.grad.scalar_type(), "weighted_sum_backward", [&] {
      const auto scaled_w = host_weights<acc_t<scalar_t>>(weights, p.k, scale);
      sum_backward<scalar_t>(p.grad, p.inputs, scaled_w, p.grads, partials, chunks);
    });
  }
  at::Tensor grad_w = weight_grad
      ? combine_partials(partials, chunks, p.k, scale, weights.options())
      : weights.new_empty({0});
  return {p.grads, grad_w};
}

}  // namespace

TORCH_LIBRARY_IMPL(nasops, CPU, m) {
  SumOps<&scaled_sum>::register_in(m);
  m.impl("weighted_sum_backward", &weighted_sum_backward);
}

}  // namespace nasops::cpu
