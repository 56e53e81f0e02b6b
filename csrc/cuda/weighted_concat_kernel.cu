// CUDA kernels of weighted_concat and its backward.
//
// The contiguous output is viewed as [outer, Σ size_i · inner]: each row holds the inputs'
// runs side by side. Grid row y handles input y, so every block walks one input and writes
// it, scaled, straight into its slice of the output; an input moves in 128-bit packs when
// its pointers and runs keep every pack aligned, element by element otherwise. The backward
// reads each slice of g once, writes grad x_i and reduces <g_i, x_i> per block; the
// partials are then summed in a fixed order (no atomics).
#include <ATen/Dispatch.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "../element_math.h"
#include "../entry_points.h"
#include "../prepare.h"
#include "cuda_common.cuh"

namespace nasops::cuda {
namespace {

// Where input t sits in the output: `run` elements per row starting at column `offset`.
struct Slices {
  int64_t run[kMaxInputs];
  int64_t offset[kMaxInputs];
  int64_t outer;
  int64_t row;
  uint32_t packed;  // bit t: input t moves in 128-bit packs
};

template <typename scalar_t>
struct ConcatArgs {
  const scalar_t* x[kMaxInputs];
  Slices slices;
  const acc_t<scalar_t>* w;  // this launch's weights, or nullptr: every weight is 1
  scalar_t* out;
};

template <typename scalar_t, int V>
__device__ __forceinline__ void concat_input(const ConcatArgs<scalar_t>& a, int t) {
  using acc = acc_t<scalar_t>;
  const acc w = a.w != nullptr ? a.w[t] : acc(1);
  const scalar_t* x = a.x[t];
  scalar_t* dst = a.out + a.slices.offset[t];
  const int64_t run = a.slices.run[t];
  const int64_t gap = a.slices.row - run;
  const int64_t packs = a.slices.outer * run / V;
  for (int64_t p = thread_index(); p < packs; p += thread_stride()) {
    // Element e of the input is column e % run of row e / run; a pack never straddles rows.
    const int64_t e = p * V;
    scalar_t v[V];
    load<V>(v, x + e);
#pragma unroll
    for (int j = 0; j < V; ++j) {
      v[j] = finish<scalar_t>(accumulate<scalar_t>(acc(0), w, v[j]), acc(1));
    }
    store<V>(dst + e + (e / run) * gap, v);
  }
}

// __grid_constant__: the argument struct is read in place, never copied to local memory,
// though the input index (blockIdx.y) is only known at run time.
template <typename scalar_t>
__global__ void __launch_bounds__(kThreads) concat_kernel(const __grid_constant__ ConcatArgs<scalar_t> a) {
  const int t = static_cast<int>(blockIdx.y);
  if ((a.slices.packed >> t) & 1u) {
    concat_input<scalar_t, pack_size<scalar_t>()>(a, t);
  } else {
    concat_input<scalar_t, 1>(a, t);
  }
}

template <typename scalar_t>
struct ConcatBackwardArgs {
  const scalar_t* x[kMaxInputs];  // the inputs, when weight_grad
  scalar_t* gx[kMaxInputs];       // their gradients, when input_grads
  Slices slices;
  const scalar_t* g;
  const acc_t<scalar_t>* w;  // this launch's weights
  double* partials;          // [count][gridDim.x] per-block dot products, when weight_grad
  bool input_grads;
  bool weight_grad;
};

template <typename scalar_t, int V>
__device__ __forceinline__ acc_t<scalar_t> concat_backward_input(
    const ConcatBackwardArgs<scalar_t>& a,
    int t) {
  using acc = acc_t<scalar_t>;
  const acc w = a.w[t];
  const scalar_t* g = a.g + a.slices.offset[t];
  const int64_t run = a.slices.run[t];
  const int64_t gap = a.slices.row - run;
  const int64_t packs = a.slices.outer * run / V;
  acc dot = acc(0);
  for (int64_t p = thread_index(); p < packs; p += thread_stride()) {
    const int64_t e = p * V;
    scalar_t gv[V];
    load<V>(gv, g + e + (e / run) * gap);
    // Both loads before the store, which the compiler cannot prove leaves x alone.
    if (a.weight_grad) {
      scalar_t x[V];
      load<V>(x, a.x[t] + e);
#pragma unroll
      for (int j = 0; j < V; ++j) {
        dot = dot_term<scalar_t>(dot, gv[j], x[j]);
      }
    }
    if (a.input_grads) {
      scalar_t o[V];
#pragma unroll
      for (int j = 0; j < V; ++j) {
        o[j] = scale_grad<scalar_t>(w, gv[j]);
      }
      store<V>(a.gx[t] + e, o);
    }
  }
  return dot;
}

template <typename scalar_t>
__global__ void __launch_bounds__(kThreads) concat_backward_kernel(
    const __grid_constant__ ConcatBackwardArgs<scalar_t> a) {
  using acc = acc_t<scalar_t>;
  __shared__ acc shared[kWarps];
  const int t = static_cast<int>(blockIdx.y);
  const acc dot = ((a.slices.packed >> t) & 1u)
      ? concat_backward_input<scalar_t, pack_size<scalar_t>()>(a, t)
      : concat_backward_input<scalar_t, 1>(a, t);
  if (a.weight_grad) {
    const acc total = block_sum(dot, shared);
    if (threadIdx.x == 0) {
      a.partials[static_cast<int64_t>(t) * gridDim.x + blockIdx.x] = static_cast<double>(total);
    }
  }
}


// The runs and offsets of all K inputs, plus the grid: one row per input of a launch, and
// blocks enough for the largest input, sharing the device among the rows.
struct Plan {
  std::vector<int64_t> run;
  std::vector<int64_t> offset;
  int64_t outer = 0;
  int64_t row = 0;
  int64_t blocks = 0;

  Plan(at::IntArrayRef sizes, int64_t outer_, int64_t inner, int pack, int blocks_per_sm)
      : outer(outer_) {
    int64_t largest = 0;
    for (int64_t size : sizes) {
      offset.push_back(row);
      run.push_back(size * inner);
      row += size * inner;
      largest = std::max(largest, outer * size * inner);
    }
    const auto k = static_cast<int64_t>(sizes.size());
    blocks = grid_size(
        std::max<int64_t>(largest / pack, 1), blocks_per_sm, std::min<int64_t>(k, kMaxInputs));
  }

  // The slices of inputs [first, first + count); `aligned_at(t)` says whether input t's
  // pointers allow packs of `pack` elements.
  template <typename F>
  Slices slices(int64_t first, int count, int pack, F&& aligned_at) const {
    Slices s{};
    s.outer = outer;
    s.row = row;
    for (int t = 0; t < count; ++t) {
      const int64_t i = first + t;
      s.run[t] = run[i];
      s.offset[t] = offset[i];
      if (run[i] % pack == 0 && row % pack == 0 && aligned_at(i)) {
        s.packed |= 1u << t;
      }
    }
    return s;
  }
};


// Writes each scaled input straight into its slice of p.out (non-empty).
void concat_forward(ConcatProblem& p, const OptionalTensor& weights) {
  const c10::cuda::CUDAGuard guard(p.out.device());
  const int64_t dim = p.dim;
  const at::Tensor& out = p.out;
  const std::vector<at::Tensor>& inputs = p.inputs;
  const std::vector<int64_t>& sizes = p.sizes;
  const at::IntArrayRef shape = out.sizes();
  const int64_t k = static_cast<int64_t>(inputs.size());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, out.scalar_type(), "weighted_concat", [&] {
    using acc = acc_t<scalar_t>;
    constexpr int V = pack_size<scalar_t>();
    const at::Tensor w = weights.has_value() ? device_weights<acc>(*weights) : at::Tensor();
    const Plan plan(
        sizes,
        outer_size(shape, dim),
        inner_size(shape, dim),
        V,
        resident_blocks_per_sm<concat_kernel<scalar_t>>());
    scalar_t* dst = out.data_ptr<scalar_t>();
    for (int64_t first = 0; first < k; first += kMaxInputs) {
      const int count = static_cast<int>(std::min<int64_t>(kMaxInputs, k - first));
      ConcatArgs<scalar_t> a{};
      for (int t = 0; t < count; ++t) {
        a.x[t] = inputs[first + t].const_data_ptr<scalar_t>();
      }
      a.slices = plan.slices(first, count, V, [&](int64_t i) {
        return aligned(inputs[i].const_data_ptr()) && aligned(dst + plan.offset[i]);
      });
      a.w = w.defined() ? w.const_data_ptr<acc>() + first : nullptr;
      a.out = dst;
      const dim3 grid(static_cast<unsigned>(plan.blocks), static_cast<unsigned>(count));
      concat_kernel<scalar_t><<<grid, kThreads, 0, stream>>>(a);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
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
  const c10::cuda::CUDAGuard guard(p.grad.device());
  const int64_t k = p.k;
  const at::Tensor& g = p.grad;
  const std::vector<at::Tensor>& inputs = p.inputs;
  std::vector<at::Tensor>& grads = p.grads;
  if (!p.has_work()) {
    at::Tensor grad_w = weight_grad ? at::zeros({k}, weights.options()) : weights.new_empty({0});
    return {grads, grad_w};
  }
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  at::Tensor partials;
  int64_t blocks = 0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, g.scalar_type(), "weighted_concat_backward", [&] {
    using acc = acc_t<scalar_t>;
    constexpr int V = pack_size<scalar_t>();
    const at::Tensor w = device_weights<acc>(weights);
    const Plan plan(
        sizes,
        outer_size(g.sizes(), dim),
        inner_size(g.sizes(), dim),
        V,
        resident_blocks_per_sm<concat_backward_kernel<scalar_t>>());
    blocks = plan.blocks;
    if (weight_grad) {
      partials = at::empty({k * blocks}, g.options().dtype(at::kDouble));
    }
    const scalar_t* gp = g.const_data_ptr<scalar_t>();
    for (int64_t first = 0; first < k; first += kMaxInputs) {
      const int count = static_cast<int>(std::min<int64_t>(kMaxInputs, k - first));
      ConcatBackwardArgs<scalar_t> a{};
      set_backward_pointers<scalar_t>(a, inputs, grads, first, count);
      a.slices = plan.slices(first, count, V, [&](int64_t i) {
        return aligned(gp + plan.offset[i]) &&
            (!weight_grad || aligned(inputs[i].const_data_ptr())) &&
            (!input_grads || aligned(grads[i].const_data_ptr()));
      });
      a.g = gp;
      a.w = w.const_data_ptr<acc>() + first;
      a.partials = weight_grad ? partials.data_ptr<double>() + first * blocks : nullptr;
      a.input_grads = input_grads;
      a.weight_grad = weight_grad;
      const dim3 grid(static_cast<unsigned>(blocks), static_cast<unsigned>(count));
      concat_backward_kernel<scalar_t><<<grid, kThreads, 0, stream>>>(a);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
  });
  at::Tensor grad_w = weight_grad ? reduce_partials(partials, k, blocks, 1.0, weights)
                                  : weights.new_empty({0});
  return {grads, grad_w};
}

}  // namespace

TORCH_LIBRARY_IMPL(nasops, CUDA, m) {
  ConcatOps<&concat_forward>::register_in(m);
  m.impl("weighted_concat_backward", &weighted_concat_backward);
}

}  // namespace nasops::cuda
