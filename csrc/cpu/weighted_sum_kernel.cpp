// CPU kernels of weighted_sum, weighted_mean and their shared backward.
//
// Forward: at::parallel_for over the output; each tile of kTile elements accumulates the K
// input tiles in registers/L1 and writes the output once. Backward: one pass over fixed-size
// chunks that reads g and each x_i once, writes every grad x_i and keeps per-chunk partial
// dot products, summed afterwards in chunk order (deterministic).
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

// One tile of the output for a K known at compile time: each element sums its K inputs in a
// register, in input order, so the result is the tile loop's to the bit but sums[] makes no
// K round trips through L1.
template <typename scalar_t, int K>
void sum_tile_fixed_k(
    const scalar_t* const* in,
    const acc_t<scalar_t>* w,
    acc_t<scalar_t> s,
    int64_t i,
    int64_t len,
    scalar_t* o) {
  using acc = acc_t<scalar_t>;
  const scalar_t* x[K];
  acc wt[K];
  for (int t = 0; t < K; ++t) {
    x[t] = in[t] + i;
    wt[t] = w[t];
  }
  for (int64_t j = 0; j < len; ++j) {
    acc v = accumulate<scalar_t>(acc(0), wt[0], x[0][j]);
#pragma GCC unroll 8
    for (int t = 1; t < K; ++t) {
      v = accumulate<scalar_t>(v, wt[t], x[t][j]);
    }
    o[j] = finish<scalar_t>(v, s);
  }
}

// Any K: the K input tiles are added into sums[] one after another.
template <typename scalar_t>
void sum_tile_any_k(
    const scalar_t* const* in,
    const acc_t<scalar_t>* w,
    int64_t k,
    acc_t<scalar_t> s,
    int64_t i,
    int64_t len,
    scalar_t* o) {
  using acc = acc_t<scalar_t>;
  acc sums[kTile];
  const scalar_t* x0 = in[0] + i;
  for (int64_t j = 0; j < len; ++j) {
    sums[j] = accumulate<scalar_t>(acc(0), w[0], x0[j]);
  }
  for (int64_t t = 1; t < k; ++t) {
    const scalar_t* xt = in[t] + i;
    const acc wt = w[t];
    for (int64_t j = 0; j < len; ++j) {
      sums[j] = accumulate<scalar_t>(sums[j], wt, xt[j]);
    }
  }
  for (int64_t j = 0; j < len; ++j) {
    o[j] = finish<scalar_t>(sums[j], s);
  }
}

template <typename scalar_t>
using TileFn = void (*)(const scalar_t* const*, const acc_t<scalar_t>*, acc_t<scalar_t>, int64_t, int64_t, scalar_t*);

// The fixed-K tile for K = 1..8, else nullptr.
template <typename scalar_t>
TileFn<scalar_t> fixed_k_tile(int64_t k) {
  switch (k) {
    case 1: return sum_tile_fixed_k<scalar_t, 1>;
    case 2: return sum_tile_fixed_k<scalar_t, 2>;
    case 3: return sum_tile_fixed_k<scalar_t, 3>;
    case 4: return sum_tile_fixed_k<scalar_t, 4>;
    case 5: return sum_tile_fixed_k<scalar_t, 5>;
    case 6: return sum_tile_fixed_k<scalar_t, 6>;
    case 7: return sum_tile_fixed_k<scalar_t, 7>;
    case 8: return sum_tile_fixed_k<scalar_t, 8>;
    default: return nullptr;
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
  const bool stream =
      streamable<scalar_t>() && use_streaming(dst, n * static_cast<int64_t>(sizeof(scalar_t)));
  const acc s = static_cast<acc>(scale);
  const TileFn<scalar_t> fixed = fixed_k_tile<scalar_t>(k);

  // Parallel over whole tiles, so every tile starts on the (aligned) allocation's grid.
  const int64_t tiles = (n + kTile - 1) / kTile;
  at::parallel_for(0, tiles, kGrain / kTile, [&](int64_t first, int64_t last) {
    alignas(16) scalar_t staged[kTile];
    bool streamed = false;
    for (int64_t tile = first; tile < last; ++tile) {
      const int64_t i = tile * kTile;
      const int64_t len = std::min(kTile, n - i);
      const bool via_stage = stream && len == kTile;
      scalar_t* o = via_stage ? staged : dst + i;
      if (fixed != nullptr) {
        fixed(in.data(), w.data(), s, i, len, o);
      } else {
        sum_tile_any_k<scalar_t>(in.data(), w.data(), k, s, i, len, o);
      }
      if (via_stage) {
        stream_tile(dst + i, staged);
        streamed = true;
      }
    }
    if (streamed) {
      streaming_fence();
    }
  });
}

// weighted_sum (scale 1) or weighted_mean (1/K) of p.inputs into p.out (non-empty).
void scaled_sum(SumProblem& p, const OptionalTensor& weights) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, p.out.scalar_type(), "weighted_sum", [&] {
    sum_forward<scalar_t>(p.inputs, weights, p.scale, p.out);
  });
}

template <typename scalar_t>
void sum_backward(
    const at::Tensor& grad,
    const std::vector<at::Tensor>& xs,
    const std::vector<acc_t<scalar_t>>& scaled_w,
    std::vector<at::Tensor>& grads,
    std::vector<double>& partials,
    int64_t chunks) {
  using acc = acc_t<scalar_t>;
  const int64_t k = static_cast<int64_t>(scaled_w.size());
  const int64_t n = grad.numel();
  const scalar_t* g = grad.const_data_ptr<scalar_t>();
  const std::vector<const scalar_t*> in = pointers<scalar_t>(xs);
  std::vector<scalar_t*> out;
  for (auto& t : grads) {
    out.push_back(t.data_ptr<scalar_t>());
  }

  at::parallel_for(0, chunks, 1, [&](int64_t first, int64_t last) {
    for (int64_t c = first; c < last; ++c) {
      const int64_t begin = c * kChunk;
      const int64_t end = std::min(n, begin + kChunk);
      std::vector<acc> sums(in.size(), acc(0));
      for (int64_t i = begin; i < end; i += kTile) {
        const int64_t len = std::min(kTile, end - i);
        const scalar_t* gi = g + i;
        for (size_t t = 0; t < out.size(); ++t) {
          scalar_t* o = out[t] + i;
          const acc wt = scaled_w[t];
          for (int64_t j = 0; j < len; ++j) {
            o[j] = scale_grad<scalar_t>(wt, gi[j]);
          }
        }
        for (size_t t = 0; t < in.size(); ++t) {
          sums[t] += dot<scalar_t>(gi, in[t] + i, len);
        }
      }
      for (size_t t = 0; t < in.size(); ++t) {
        partials[static_cast<size_t>(c * k) + t] = static_cast<double>(sums[t]);
      }
    }
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
