// Pieces shared by the CUDA kernels: launch shape, 128-bit packs, the by-value K-pointer
// capacity, weight conversion, and the deterministic two-stage reduction of the weight
// gradient (per-block partials, then a fixed-order sum per weight; no atomics).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAMacros.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/macros/Macros.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "../element_math.h"

namespace nasops::cuda {

// Threads per block: 8 warps.
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
// Input pointers one launch carries by value. 32 keeps the largest argument struct near
// 1 KiB, well under the 4 KiB kernel-parameter limit; larger K runs in several launches.
constexpr int kMaxInputs = 32;
// K up to this value gets a kernel with K fixed at compile time (loops unrolled, weights in
// registers); larger K uses the kernel that unrolls kMaxInputs slots and skips unused ones.
constexpr int kMaxFixedK = 8;
constexpr int kPackBytes = 16;

// Elements per 128-bit load: 4 float, 2 double, 8 half or bfloat16.
template <typename scalar_t>
constexpr int pack_size() {
  return kPackBytes / static_cast<int>(sizeof(scalar_t));
}

template <typename scalar_t, int V>
struct alignas(sizeof(scalar_t) * V) Pack {
  scalar_t v[V];
};

// V consecutive elements in one load (one 128-bit transaction for a full pack); V == 1 is
// the scalar path, used when a pointer is not 16-byte aligned.
template <int V, typename scalar_t>
__device__ __forceinline__ void load(scalar_t (&dst)[V], const scalar_t* src) {
  const Pack<scalar_t, V> p = *reinterpret_cast<const Pack<scalar_t, V>*>(src);
#pragma unroll
  for (int j = 0; j < V; ++j) {
    dst[j] = p.v[j];
  }
}

template <int V, typename scalar_t>
__device__ __forceinline__ void store(scalar_t* dst, const scalar_t (&src)[V]) {
  Pack<scalar_t, V> p;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    p.v[j] = src[j];
  }
  *reinterpret_cast<Pack<scalar_t, V>*>(dst) = p;
}

__device__ __forceinline__ int64_t thread_index() {
  return static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
}

__device__ __forceinline__ int64_t thread_stride() {
  return static_cast<int64_t>(gridDim.x) * kThreads;
}

// Sums v over the block in a fixed order (butterfly within each warp, then the warps in
// index order), so the result's bits never vary between runs. Thread 0 gets the total.
template <typename acc>
__device__ acc block_sum(acc v, acc* shared) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  }
  if (threadIdx.x % 32 == 0) {
    shared[threadIdx.x / 32] = v;
  }
  __syncthreads();
  acc total = 0;
  if (threadIdx.x == 0) {
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      total += shared[w];
    }
  }
  // `shared` is reused by the caller's next call.
  __syncthreads();
  return total;
}

inline bool aligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % kPackBytes == 0;
}

// A per-device value computed once by `query` and cached: device attributes and occupancy
// cost microseconds to ask for, as much as the host side of a small launch.
template <typename Query>
int cached_per_device(std::array<std::atomic<int>, C10_COMPILE_TIME_MAX_GPUS>& cache, Query query) {
  const c10::DeviceIndex device = c10::cuda::current_device();
  int value = cache[device].load(std::memory_order_relaxed);
  if (value == 0) {
    value = std::max(query(device), 1);
    cache[device].store(value, std::memory_order_relaxed);
  }
  return value;
}

// Blocks of kThreads that one SM keeps resident for `kernel`, as its registers and shared
// memory allow. A grid-stride grid larger than the resident blocks runs in two waves, the
// second mostly idle: a quarter of the bandwidth was lost that way on an H100.
template <auto kernel>
int resident_blocks_per_sm() {
  static std::array<std::atomic<int>, C10_COMPILE_TIME_MAX_GPUS> cache{};
  return cached_per_device(cache, [](c10::DeviceIndex) {
    int blocks = 0;
    C10_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, kThreads, 0));
    return blocks;
  });
}

// Blocks for `items` work items of one thread each: enough to cover them, at most the
// blocks the device keeps resident (`blocks_per_sm` per SM) divided among `shares` grid rows;
// the kernels stride over the rest. Fixed for a given device, kernel and size, which keeps the
// per-block partials, and so the weight gradient, deterministic.
int64_t grid_size(int64_t items, int blocks_per_sm, int64_t shares = 1);

// The weights in the accumulation type on the device (a no-op for the usual float32 weights
// of float32/half inputs): converted once per call, read in-kernel, never copied to the host.
template <typename acc>
at::Tensor device_weights(const at::Tensor& weights) {
  return weights.to(c10::CppTypeToScalarType<acc>::value).contiguous();
}

// Calls f(std::integral_constant<int, K>) with K = count for count <= kMaxFixedK, else K = 0
// (the kernel that reads the count at run time).
template <typename F>
void with_fixed_k(int count, F&& f) {
  switch (count) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    case 4: f(std::integral_constant<int, 4>{}); break;
    case 5: f(std::integral_constant<int, 5>{}); break;
    case 6: f(std::integral_constant<int, 6>{}); break;
    case 7: f(std::integral_constant<int, 7>{}); break;
    case 8: f(std::integral_constant<int, 8>{}); break;
    default: f(std::integral_constant<int, 0>{}); break;
  }
}

// Calls f(std::integral_constant<int, V>) with V the 128-bit pack size, or 1 when a pointer
// is misaligned.
template <typename scalar_t, typename F>
void with_pack(bool vectorized, F&& f) {
  if (vectorized) {
    f(std::integral_constant<int, pack_size<scalar_t>()>{});
  } else {
    f(std::integral_constant<int, 1>{});
  }
}

// A backward launch's pointers for inputs [first, first + count): the inputs, when the weight
// gradient is wanted (`xs` is empty otherwise), and their gradients, when input gradients are
// (`grads` is empty otherwise).
template <typename scalar_t, typename Args>
void set_backward_pointers(
    Args& a,
    const std::vector<at::Tensor>& xs,
    const std::vector<at::Tensor>& grads,
    int64_t first,
    int count) {
  for (int t = 0; t < count; ++t) {
    if (!xs.empty()) {
      a.x[t] = xs[first + t].const_data_ptr<scalar_t>();
    }
    if (!grads.empty()) {
      a.gx[t] = grads[first + t].data_ptr<scalar_t>();
    }
  }
}

// Stage two of the weight gradient: grad_w[t] = scale · Σ_b partials[t·blocks + b], summed
// in double in a fixed order, stored in the weights' dtype. `partials` holds k × blocks
// per-block sums. Returns a new k-entry tensor with the options of `weights`.
at::Tensor reduce_partials(
    const at::Tensor& partials,
    int64_t k,
    int64_t blocks,
    double scale,
    const at::Tensor& weights);

}  // namespace nasops::cuda
