// Every nasops:: schema, in one place. Kernels register per backend in cpu/ and cuda/.
// nasops/ops/_schemas.py holds the same strings for the pure-PyTorch fallback.
#include <torch/headeronly/version.h>
#include <torch/library.h>

#include <string>

#include "cpu/cpu_common.h"

namespace nasops {

// The build configuration, as JSON, for nasops.extension_info().
std::string build_info() {
  std::string kernels = "\"CPU\"";
#ifdef NASOPS_WITH_CUDA
  kernels += ", \"CUDA\"";
#endif
#ifdef _OPENMP
  const char* openmp = "true";
#else
  const char* openmp = "false";
#endif
  return std::string("{\"kernels\": [") + kernels + "], \"torch_version\": \"" +
         std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH) + "\", \"openmp\": " + openmp +
         ", \"compiler\": \"" + __VERSION__ + "\", \"cpu_loops\": \"" + cpu::cpu_loops() + "\"}";
}

}  // namespace nasops

TORCH_LIBRARY(nasops, m) {
  m.def("weighted_sum(Tensor[] xs, Tensor? weights) -> Tensor");
  m.def("weighted_mean(Tensor[] xs, Tensor? weights) -> Tensor");
  m.def("weighted_concat(Tensor[] xs, Tensor? weights, int dim=1) -> Tensor");
  m.def("weighted_sum_out(Tensor[] xs, Tensor? weights, Tensor(a!) out) -> ()");
  m.def("weighted_mean_out(Tensor[] xs, Tensor? weights, Tensor(a!) out) -> ()");
  m.def("weighted_concat_out(Tensor[] xs, Tensor? weights, int dim, Tensor(a!) out) -> ()");
  m.def(
      "weighted_sum_backward(Tensor grad, Tensor[] xs, Tensor weights, float scale, "
      "bool input_grads, bool weight_grad) -> (Tensor[], Tensor)");
  m.def(
      "weighted_concat_backward(Tensor grad, Tensor[] xs, Tensor weights, int dim, "
      "int[] sizes, bool input_grads, bool weight_grad) -> (Tensor[], Tensor)");
  m.def("_build_info() -> str", &nasops::build_info);
}
