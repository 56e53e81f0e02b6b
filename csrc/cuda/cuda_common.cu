#include "cuda_common.cuh"

#include <ATen/Dispatch.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAFunctions.h>

#include <algorithm>

namespace nasops::cuda {
namespace {

// One block per weight; each thread sums a strided subset of that weight's partials, then
// the block combines the threads in a fixed order.
template <typename out_t>
__global__ void __launch_bounds__(kThreads) reduce_partials_kernel(
    const double* partials,
    int64_t blocks,
    double scale,
    out_t* grad_w) {
  __shared__ double shared[kWarps];
  const double* row = partials + static_cast<int64_t>(blockIdx.x) * blocks;
  double v = 0.0;
  for (int64_t b = threadIdx.x; b < blocks; b += kThreads) {
    v += row[b];
  }
  const double total = block_sum(v, shared);
  if (threadIdx.x == 0) {
    grad_w[blockIdx.x] = static_cast<out_t>(total * scale);
  }
}

}  // namespace

int64_t grid_size(int64_t items, int blocks_per_sm, int64_t shares) {
  static std::array<std::atomic<int>, C10_COMPILE_TIME_MAX_GPUS> cache{};
  const int sms = cached_per_device(cache, [](c10::DeviceIndex device) {
    int count = 0;
    C10_CUDA_CHECK(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device));
    return count;
  });
  const int64_t max_blocks = std::max<int64_t>(int64_t{sms} * blocks_per_sm / shares, 1);
  const int64_t needed = (items + kThreads - 1) / kThreads;
  return std::clamp<int64_t>(needed, 1, max_blocks);
}

at::Tensor reduce_partials(
    const at::Tensor& partials,
    int64_t k,
    int64_t blocks,
    double scale,
    const at::Tensor& weights) {
  at::Tensor grad_w = at::empty({k}, weights.options());
  if (k == 0) {
    return grad_w;
  }
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad_w.scalar_type(), "reduce_partials", [&] {
    reduce_partials_kernel<scalar_t><<<static_cast<unsigned>(k), kThreads, 0, stream>>>(
        partials.const_data_ptr<double>(), blocks, scale, grad_w.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return grad_w;
}

}  // namespace nasops::cuda
