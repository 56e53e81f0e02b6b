// CUDA kernels of weighted_sum, weighted_mean and their shared backward.
//
// Forward: the K input pointers travel by value in the kernel arguments (no stacking); each
// thread walks 128-bit packs of the output in a grid-stride loop, accumulates the K inputs
// in registers and writes the output once. K above kMaxInputs runs in several launches on
// one stream that carry the running sum in an accumulation-type buffer, so the summation
// order (x_0 first, then x_1, ...) is the CPU kernel's whatever K is. Backward: one pass
// reads g and each x_i once, writes every grad x_i and keeps per-thread dot products, which
// blocks reduce to per-block partials and reduce_partials sums in a fixed order.
#include <ATen/Dispatch.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "../element_math.h"
#include "../entry_points.h"
#include "../prepare.h"
#include "cuda_common.cuh"

namespace nasops::cuda {
namespace {

template <typename scalar_t>
struct SumArgs {
  using acc = acc_t<scalar_t>;
  const scalar_t* x[kMaxInputs];
  const acc* w;         // this launch's weights, or nullptr: every weight is 1
  const acc* carry_in;  // running sum of the earlier launches' inputs, or nullptr
  acc* carry_out;       // where to leave the running sum for a later launch, or nullptr
  scalar_t* out;        // written by the last launch: finish(running sum, scale)
  int64_t n;
  int count;  // inputs in this launch
  acc scale;
};

// Slots a kernel unrolls: K when fixed at compile time, otherwise the launch capacity.
template <int K>
constexpr int slots() {
  return K > 0 ? K : kMaxInputs;
}

template <typename scalar_t, int K, int V>
__device__ __forceinline__ void sum_pack(
    const SumArgs<scalar_t>& a,
    const acc_t<scalar_t> (&w)[slots<K>()],
    int count,
    int64_t i) {
  using acc = acc_t<scalar_t>;
  acc sums[V];
  scalar_t x[V];
  load<V>(x, a.x[0] + i);
#pragma unroll
  for (int j = 0; j < V; ++j) {
    sums[j] = accumulate<scalar_t>(a.carry_in ? a.carry_in[i + j] : acc(0), w[0], x[j]);
  }
#pragma unroll
  for (int t = 1; t < slots<K>(); ++t) {
    if (t < count) {
      load<V>(x, a.x[t] + i);
#pragma unroll
      for (int j = 0; j < V; ++j) {
        sums[j] = accumulate<scalar_t>(sums[j], w[t], x[j]);
      }
    }
  }
  if (a.carry_out) {
#pragma unroll
    for (int j = 0; j < V; ++j) {
      a.carry_out[i + j] = sums[j];
    }
    return;
  }
  scalar_t o[V];
#pragma unroll
  for (int j = 0; j < V; ++j) {
    o[j] = finish<scalar_t>(sums[j], a.scale);
  }
  store<V>(a.out + i, o);
}

// __grid_constant__: the argument struct is read in place, never copied to local memory,
// even where an input index is not known at compile time.
template <typename scalar_t, int K, int V>
__global__ void __launch_bounds__(kThreads) sum_kernel(const __grid_constant__ SumArgs<scalar_t> a) {
  using acc = acc_t<scalar_t>;
  const int count = K > 0 ? K : a.count;
  acc w[slots<K>()];
#pragma unroll
  for (int t = 0; t < slots<K>(); ++t) {
    w[t] = (a.w != nullptr && t < count) ? a.w[t] : acc(1);
  }
  const int64_t packs = a.n / V;
  for (int64_t p = thread_index(); p < packs; p += thread_stride()) {
    sum_pack<scalar_t, K, V>(a, w, count, p * V);
  }
  // The last n % V elements, one per thread.
  if constexpr (V > 1) {
    const int64_t e = packs * V + thread_index();
    if (e < a.n) {
      sum_pack<scalar_t, K, 1>(a, w, count, e);
    }
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
  const at::Tensor w = weights.has_value() ? device_weights<acc>(*weights) : at::Tensor();
  // Only K > kMaxInputs needs a running sum between launches, kept in the accumulation type
  // so half inputs round once, at the end, exactly as with a single launch.
  const at::Tensor carry = k > kMaxInputs
      ? at::empty({n}, out.options().dtype(c10::CppTypeToScalarType<acc>::value))
      : at::Tensor();
  bool vectorized = aligned(out.const_data_ptr());
  for (const auto& x : xs) {
    vectorized = vectorized && aligned(x.const_data_ptr());
  }
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  with_pack<scalar_t>(vectorized, [&](auto pack) {
    constexpr int V = decltype(pack)::value;
    for (int64_t first = 0; first < k; first += kMaxInputs) {
      const int count = static_cast<int>(std::min<int64_t>(kMaxInputs, k - first));
      SumArgs<scalar_t> a{};
      for (int t = 0; t < count; ++t) {
        a.x[t] = xs[first + t].const_data_ptr<scalar_t>();
      }
      a.w = w.defined() ? w.const_data_ptr<acc>() + first : nullptr;
      a.carry_in = first > 0 ? carry.const_data_ptr<acc>() : nullptr;
      a.carry_out = first + count < k ? carry.data_ptr<acc>() : nullptr;
      a.out = out.data_ptr<scalar_t>();
      a.n = n;
      a.count = count;
      a.scale = static_cast<acc>(scale);
      with_fixed_k(count, [&](auto fixed) {
        constexpr int K = decltype(fixed)::value;
        constexpr auto kernel = sum_kernel<scalar_t, K, V>;
        const auto blocks = static_cast<unsigned>(
            grid_size(std::max<int64_t>(n / V, 1), resident_blocks_per_sm<kernel>()));
        kernel<<<blocks, kThreads, 0, stream>>>(a);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      });
    }
  });
}

// weighted_sum (scale 1) or weighted_mean (1/K) of p.inputs into p.out (non-empty).
void scaled_sum(SumProblem& p, const OptionalTensor& weights) {
  const c10::cuda::CUDAGuard guard(p.out.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, p.out.scalar_type(), "weighted_sum", [&] {
    sum_forward<scalar_t>(p.inputs, weights, p.scale, p.out);
  });
}

template <typename scalar_t>
struct SumBackwardArgs {
  using acc = acc_t<scalar_t>;
  const scalar_t* x[kMaxInputs];  // the inputs, when weight_grad
  scalar_t* gx[kMaxInputs];       // their gradients, when input_grads
  const scalar_t* g;
  const acc* w;       // this launch's weights
  double* partials;   // [count][gridDim.x] per-block dot products, when weight_grad
  int64_t n;
  double scale;
  int count;
  bool input_grads;
  bool weight_grad;
};

template <typename scalar_t, int K, int V>
__device__ __forceinline__ void sum_backward_pack(
    const SumBackwardArgs<scalar_t>& a,
    const acc_t<scalar_t> (&scaled_w)[slots<K>()],
    acc_t<scalar_t> (&dots)[slots<K>()],
    int count,
    int64_t i) {
  scalar_t g[V];
  load<V>(g, a.g + i);
  // Every load before the first store: the compiler cannot prove a store leaves the later
  // inputs alone, so a load after a store would wait for it instead of being in flight.
  if (a.weight_grad) {
#pragma unroll
    for (int t = 0; t < slots<K>(); ++t) {
      if (t < count) {
        scalar_t x[V];
        load<V>(x, a.x[t] + i);
#pragma unroll
        for (int j = 0; j < V; ++j) {
          dots[t] = dot_term<scalar_t>(dots[t], g[j], x[j]);
        }
      }
    }
  }
  if (a.input_grads) {
#pragma unroll
    for (int t = 0; t < slots<K>(); ++t) {
      if (t < count) {
        scalar_t o[V];
#pragma unroll
        for (int j = 0; j < V; ++j) {
          o[j] = scale_grad<scalar_t>(scaled_w[t], g[j]);
        }
        store<V>(a.gx[t] + i, o);
      }
    }
  }
}

template <typename scalar_t, int K, int V>
__global__ void __launch_bounds__(kThreads) sum_backward_kernel(
    const __grid_constant__ SumBackwardArgs<scalar_t> a) {
  using acc = acc_t<scalar_t>;
  __shared__ acc shared[kWarps];
  const int count = K > 0 ? K : a.count;
  acc scaled_w[slots<K>()];
  acc dots[slots<K>()];
#pragma unroll
  for (int t = 0; t < slots<K>(); ++t) {
    scaled_w[t] = t < count ? scaled_weight<acc>(static_cast<double>(a.w[t]), a.scale) : acc(0);
    dots[t] = acc(0);
  }
  const int64_t packs = a.n / V;
  for (int64_t p = thread_index(); p < packs; p += thread_stride()) {
    sum_backward_pack<scalar_t, K, V>(a, scaled_w, dots, count, p * V);
  }
  if constexpr (V > 1) {
    const int64_t e = packs * V + thread_index();
    if (e < a.n) {
      sum_backward_pack<scalar_t, K, 1>(a, scaled_w, dots, count, e);
    }
  }
  if (a.weight_grad) {
#pragma unroll
    for (int t = 0; t < slots<K>(); ++t) {
      if (t < count) {
        const acc total = block_sum(dots[t], shared);
        if (threadIdx.x == 0) {
          a.partials[static_cast<int64_t>(t) * gridDim.x + blockIdx.x] = static_cast<double>(total);
        }
      }
    }
  }
}

template <typename scalar_t>
void sum_backward(
    const at::Tensor& g,
    const std::vector<at::Tensor>& xs,
    const at::Tensor& weights,
    double scale,
    std::vector<at::Tensor>& grads,
    bool weight_grad,
    at::Tensor& partials,
    int64_t& blocks_out) {
  using acc = acc_t<scalar_t>;
  const int64_t k = weights.size(0);
  const int64_t n = g.numel();
  const bool input_grads = !grads.empty();
  const at::Tensor w = device_weights<acc>(weights);
  bool vectorized = aligned(g.const_data_ptr());
  for (const auto& t : grads) {
    vectorized = vectorized && aligned(t.const_data_ptr());
  }
  for (const auto& x : xs) {
    vectorized = vectorized && aligned(x.const_data_ptr());
  }
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  with_pack<scalar_t>(vectorized, [&](auto pack) {
    constexpr int V = decltype(pack)::value;
    // One grid for every launch (the partials are k rows of `blocks`): the one that the
    // kernels of the first and the last launch (their K may differ) both keep resident.
    int per_sm = std::numeric_limits<int>::max();
    const int last_count = static_cast<int>(k - (k - 1) / kMaxInputs * kMaxInputs);
    for (const int count : {static_cast<int>(std::min<int64_t>(k, kMaxInputs)), last_count}) {
      with_fixed_k(count, [&](auto fixed) {
        constexpr int K = decltype(fixed)::value;
        per_sm = std::min(per_sm, resident_blocks_per_sm<sum_backward_kernel<scalar_t, K, V>>());
      });
    }
    const int64_t blocks = grid_size(std::max<int64_t>(n / V, 1), per_sm);
    blocks_out = blocks;
    if (weight_grad) {
      partials = at::empty({k * blocks}, g.options().dtype(at::kDouble));
    }
    // Inputs beyond kMaxInputs take further launches, each reading g again.
    for (int64_t first = 0; first < k; first += kMaxInputs) {
      const int count = static_cast<int>(std::min<int64_t>(kMaxInputs, k - first));
      SumBackwardArgs<scalar_t> a{};
      set_backward_pointers<scalar_t>(a, xs, grads, first, count);
      a.g = g.const_data_ptr<scalar_t>();
      a.w = w.const_data_ptr<acc>() + first;
      a.partials = weight_grad ? partials.data_ptr<double>() + first * blocks : nullptr;
      a.n = n;
      a.scale = scale;
      a.count = count;
      a.input_grads = input_grads;
      a.weight_grad = weight_grad;
      with_fixed_k(count, [&](auto fixed) {
        constexpr int K = decltype(fixed)::value;
        sum_backward_kernel<scalar_t, K, V><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(a);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      });
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
  const c10::cuda::CUDAGuard guard(p.grad.device());
  const int64_t k = p.k;
  const at::Tensor& g = p.grad;
  const std::vector<at::Tensor>& inputs = p.inputs;
  std::vector<at::Tensor>& grads = p.grads;
  if (!p.has_work()) {
    at::Tensor grad_w = weight_grad ? at::zeros({k}, weights.options()) : weights.new_empty({0});
    return {grads, grad_w};
  }
  at::Tensor partials;
  int64_t blocks = 0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, g.scalar_type(), "weighted_sum_backward", [&] {
    sum_backward<scalar_t>(g, inputs, weights, scale, grads, weight_grad, partials, blocks);
  });
  at::Tensor grad_w = weight_grad ? reduce_partials(partials, k, blocks, scale, weights)
                                  : weights.new_empty({0});
  return {grads, grad_w};
}

}  // namespace

TORCH_LIBRARY_IMPL(nasops, CUDA, m) {
  SumOps<&scaled_sum>::register_in(m);
  m.impl("weighted_sum_backward", &weighted_sum_backward);
}

}  // namespace nasops::cuda
