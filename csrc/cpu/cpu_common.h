// Helpers shared by the CPU kernels: blocking constants, host copies of the weights, large
// outputs (page mapping, streaming stores), and the fixed-order combination of per-chunk
// partial dot products.
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>

#include "../element_math.h"

#include <cstdint>
#include <optional>
#include <type_traits>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace nasops::cpu {

// Each kernel's hot loop (a function marked NASOPS_CPU_CLONES, with its helpers forced inline
// into it) is compiled twice, for the x86-64 baseline and for AVX2, and the loader picks one
// per machine (GCC/Clang function multiversioning through a glibc ifunc). Measured on the
// reference AVX-512 EPYC with the forward loop timed standalone on one thread: K = 8 at 2^16
// elements per input took 28 us with AVX2 against 42 us with SSE2, at 2^18 109 us against
// 144 us. At DRAM sizes the two match while the memory is slow, but when it is fast the SSE2
// loop, not the memory, set the speed: the op took 12 ms for K = 8 at 2^24 on 2 threads, where
// the AVX2 build and a hand-written AVX-512 loop both took 10 ms. AVX-512 ran no faster than
// AVX2. AVX2 does not include FMA, so both clones compute the same separately rounded
// products and sums: the same bits on every machine.
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#define NASOPS_CPU_CLONED 1
#define NASOPS_CPU_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NASOPS_CPU_CLONED 0
#define NASOPS_CPU_CLONES
#endif
#if defined(__GNUC__) || defined(__clang__)
#define NASOPS_CPU_INLINE inline __attribute__((always_inline))
#define NASOPS_CPU_INLINE_LAMBDA __attribute__((always_inline))
#else
#define NASOPS_CPU_INLINE inline
#define NASOPS_CPU_INLINE_LAMBDA
#endif

// Which build of the hot loops runs on this machine: "avx2" or "x86-64" (the baseline) when
// they are cloned, "native" (the compiler's target) when not. For extension_info().
const char* cpu_loops();

// Elements per register/L1 tile: K input tiles and one accumulator tile stay in L1.
constexpr int64_t kTile = 256;
// Elements per at::parallel_for grain in the forward passes.
constexpr int64_t kGrain = 32768;
// Elements per backward chunk. Fixed, not derived from the thread count, so the weight
// gradient's summation order (and its bits) never depend on how many threads run.
constexpr int64_t kChunk = 32768;
// Outputs at least this large are mapped before the kernel writes them and are written with
// streaming stores (map_fresh_pages, use_streaming).
constexpr int64_t kLargeBytes = int64_t{8} << 20;
// Parallel lanes of a dot product, so the compiler vectorizes it without reordering sums.
constexpr int64_t kLanes = 16;

// The weights as `acc` values on the host, times `scale`; all `scale` when absent. Read in
// place (any floating dtype, any stride): no temporary tensor per call.
template <typename acc>
std::vector<acc> host_weights(const std::optional<at::Tensor>& weights, int64_t k, double scale) {
  std::vector<acc> out(static_cast<size_t>(k), static_cast<acc>(scale));
  if (weights.has_value()) {
    const at::Tensor& w = *weights;
    const int64_t stride = w.stride(0);
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, w.scalar_type(), "host_weights", [&] {
      const scalar_t* p = w.const_data_ptr<scalar_t>();
      for (int64_t i = 0; i < k; ++i) {
        out[i] = scaled_weight<acc>(static_cast<double>(p[i * stride]), scale);
      }
    });
  }
  return out;
}

// Maps the pages of an output of `bytes` bytes that the caller is about to write in full, when
// it is large and not yet backed (a fresh mapping: its middle page is tested, as the first one
// holds the allocator's header), from all threads at once. Measured on the reference VM at
// 64 MiB: letting the kernel's loop take those page faults cost 4-7 ms more than mapping the
// pages first, as each fault breaks the loop's memory streams.
void map_fresh_pages(void* out, int64_t bytes);

// Whether a large output, mapped already, is written with streaming stores: they skip the
// read-for-ownership of lines that would be evicted before anyone reads them.
inline bool use_streaming(const void* out, int64_t bytes) {
  return bytes >= kLargeBytes && reinterpret_cast<uintptr_t>(out) % 16 == 0;
}

// Whether this build writes scalar_t with streaming stores: float and double, on SSE2.
template <typename scalar_t>
constexpr bool streamable() {
#if defined(__SSE2__)
  return std::is_same_v<scalar_t, float> || std::is_same_v<scalar_t, double>;
#else
  return false;
#endif
}

// dst[j] = src[j] for a full tile of a streamable type, bypassing the cache. `dst` must be
// 16-byte aligned; the caller fences once after its last streaming store.
template <typename scalar_t>
NASOPS_CPU_INLINE void stream_tile(scalar_t* dst, const scalar_t* src) {
#if defined(__SSE2__)
  if constexpr (std::is_same_v<scalar_t, float>) {
    for (int64_t j = 0; j < kTile; j += 4) {
      _mm_stream_ps(dst + j, _mm_loadu_ps(src + j));
    }
  } else if constexpr (std::is_same_v<scalar_t, double>) {
    for (int64_t j = 0; j < kTile; j += 2) {
      _mm_stream_pd(dst + j, _mm_loadu_pd(src + j));
    }
  }
#endif
}

inline void streaming_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

// Produces one tile of `len` elements of dst with fill(o): o is dst itself or, for a full tile
// of a streamable type when `stream`, an L1 tile that is then streamed to dst (16-byte aligned).
// Says whether it streamed, so the caller fences once after its last tile.
template <typename scalar_t, typename Fill>
NASOPS_CPU_INLINE bool write_tile(scalar_t* dst, int64_t len, bool stream, Fill&& fill) {
  if constexpr (streamable<scalar_t>()) {
    if (stream && len == kTile) {
      alignas(16) scalar_t staged[kTile];
      fill(staged);
      stream_tile(dst, staged);
      return true;
    }
  }
  fill(dst);
  return false;
}

// grad_x[j] = scaled_w·g[j] over [0, len): one run of an input gradient.
template <typename scalar_t>
NASOPS_CPU_INLINE void scale_grads(
    const scalar_t* g,
    acc_t<scalar_t> scaled_w,
    int64_t len,
    scalar_t* grad_x) {
  for (int64_t j = 0; j < len; ++j) {
    grad_x[j] = scale_grad<scalar_t>(scaled_w, g[j]);
  }
}

// <g, x> over [0, len), accumulated in kLanes independent lanes then summed in lane order.
template <typename scalar_t>
NASOPS_CPU_INLINE acc_t<scalar_t> dot(const scalar_t* g, const scalar_t* x, int64_t len) {
  using acc = acc_t<scalar_t>;
  acc lanes[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= len; j += kLanes) {
    for (int64_t l = 0; l < kLanes; ++l) {
      lanes[l] = dot_term<scalar_t>(lanes[l], g[j + l], x[j + l]);
    }
  }
  for (; j < len; ++j) {
    lanes[0] = dot_term<scalar_t>(lanes[0], g[j], x[j]);
  }
  acc total = 0;
  for (int64_t l = 0; l < kLanes; ++l) {
    total += lanes[l];
  }
  return total;
}

// Sums partials[c * k + i] over chunks c in order, in double, into a `k`-entry tensor made
// with `options` (the weights' dtype): no double-precision temporary tensor per backward.
at::Tensor combine_partials(
    const std::vector<double>& partials,
    int64_t chunks,
    int64_t k,
    double scale,
    const at::TensorOptions& options);

}  // namespace nasops::cpu
