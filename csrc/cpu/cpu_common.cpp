#include "cpu_common.h"

#include <ATen/ops/empty.h>

namespace nasops::cpu {

at::Tensor combine_partials(
    const std::vector<double>& partials,
    int64_t chunks,
    int64_t k,
    double scale,
    const at::TensorOptions& options) {
  at::Tensor total = at::empty({k}, options.dtype(at::kDouble));
  double* out = total.data_ptr<double>();
  for (int64_t i = 0; i < k; ++i) {
    double sum = 0.0;
    for (int64_t c = 0; c < chunks; ++c) {
      sum += partials[static_cast<size_t>(c * k + i)];
    }
    out[i] = sum * scale;
  }
  return total.to(options.dtype());
}

}  // namespace nasops::cpu
