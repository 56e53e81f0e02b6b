#include "checks.h"

#include <c10/util/Exception.h>

#include <cstdint>
#include <string>
#include <utility>

namespace nasops {
namespace {

constexpr const char* kAccepted = "accepted dtypes are float32, float64, float16 and bfloat16";

bool is_supported(at::ScalarType t) {
  return t == at::kFloat || t == at::kDouble || t == at::kHalf || t == at::kBFloat16;
}

// Python's spelling (torch.float32), so messages read the same from either backend.
std::string dtype_name(at::ScalarType t) {
  return "torch." + std::string(c10::getDtypeNames(t).first);
}

void check_list(const char* op, at::TensorList xs) {
  TORCH_CHECK_VALUE(
      !xs.empty(), "nasops.", op, ": xs must be a non-empty list of tensors, got an empty list");
  const at::Tensor& ref = xs[0];
  for (size_t i = 0; i < xs.size(); ++i) {
    const at::Tensor& x = xs[i];
    TORCH_CHECK_VALUE(
        is_supported(x.scalar_type()), "nasops.", op, ": xs[", i, "] has dtype ",
        dtype_name(x.scalar_type()), "; ", kAccepted);
    TORCH_CHECK_VALUE(
        x.scalar_type() == ref.scalar_type(), "nasops.", op, ": xs[", i, "] has dtype ",
        dtype_name(x.scalar_type()), " but xs[0] has dtype ", dtype_name(ref.scalar_type()),
        "; all inputs must share one dtype");
    TORCH_CHECK_VALUE(
        x.device() == ref.device(), "nasops.", op, ": xs[", i, "] is on device ", x.device(),
        " but xs[0] is on ", ref.device(), "; all inputs must be on one device");
  }
}

void check_weights(const char* op, at::TensorList xs, const std::optional<at::Tensor>& weights) {
  if (!weights.has_value()) {
    return;
  }
  const at::Tensor& w = *weights;
  const auto k = static_cast<int64_t>(xs.size());
  TORCH_CHECK_VALUE(
      w.dim() == 1, "nasops.", op, ": weights must be 1-D with one entry per input (", k,
      "), got shape ", w.sizes());
  TORCH_CHECK_VALUE(
      w.size(0) == k, "nasops.", op, ": weights has ", w.size(0), " entries but xs has ", k,
      " inputs; weights must be 1-D with one entry per input");
  TORCH_CHECK_VALUE(
      is_supported(w.scalar_type()), "nasops.", op, ": weights has dtype ",
      dtype_name(w.scalar_type()), "; ", kAccepted);
  TORCH_CHECK_VALUE(
      w.device() == xs[0].device(), "nasops.", op, ": weights is on device ", w.device(),
      " but xs[0] is on ", xs[0].device(), "; weights must be on the inputs' device");
}

// The bytes [first, last) that a tensor's elements span; empty for zero elements.
std::pair<uintptr_t, uintptr_t> byte_span(const at::Tensor& t) {
  if (t.numel() == 0) {
    return {0, 0};
  }
  int64_t last = 0;
  for (int64_t d = 0; d < t.dim(); ++d) {
    last += (t.size(d) - 1) * t.stride(d);
  }
  const auto first = reinterpret_cast<uintptr_t>(t.const_data_ptr());
  return {first, first + static_cast<uintptr_t>((last + 1) * t.element_size())};
}

bool same_view(const at::Tensor& a, const at::Tensor& b) {
  return a.const_data_ptr() == b.const_data_ptr() && a.sizes() == b.sizes() &&
      a.strides() == b.strides();
}

}  // namespace

void check_inputs(const char* op, at::TensorList xs, const std::optional<at::Tensor>& weights) {
  check_list(op, xs);
  const at::Tensor& ref = xs[0];
  for (size_t i = 0; i < xs.size(); ++i) {
    TORCH_CHECK_VALUE(
        xs[i].sizes() == ref.sizes(), "nasops.", op, ": xs[", i, "] has shape ", xs[i].sizes(),
        " but xs[0] has shape ", ref.sizes(), "; ", op, " needs equal shapes (no broadcasting)");
  }
  check_weights(op, xs, weights);
}

int64_t check_concat_inputs(
    const char* op,
    at::TensorList xs,
    const std::optional<at::Tensor>& weights,
    int64_t dim) {
  check_list(op, xs);
  const at::Tensor& ref = xs[0];
  const int64_t ndim = ref.dim();
  TORCH_CHECK_VALUE(
      ndim > 0, "nasops.", op, ": xs[0] is 0-dimensional; ", op,
      " needs inputs with at least one dimension");
  TORCH_CHECK_VALUE(
      -ndim <= dim && dim < ndim, "nasops.", op, ": dim ", dim, " is out of range for inputs with ",
      ndim, " dimensions; accepted is ", -ndim, "..", ndim - 1);
  dim = (dim + ndim) % ndim;
  for (size_t i = 0; i < xs.size(); ++i) {
    const at::Tensor& x = xs[i];
    bool same = x.dim() == ndim;
    for (int64_t d = 0; same && d < ndim; ++d) {
      same = d == dim || x.size(d) == ref.size(d);
    }
    TORCH_CHECK_VALUE(
        same, "nasops.", op, ": xs[", i, "] has shape ", x.sizes(), " but xs[0] has shape ",
        ref.sizes(), "; ", op, " needs equal shapes except in dim ", dim);
  }
  check_weights(op, xs, weights);
  return dim;
}

void check_backward(
    const char* op,
    const at::Tensor& grad,
    at::TensorList xs,
    const at::Tensor& weights,
    bool weight_grad) {
  TORCH_CHECK_VALUE(
      weights.dim() == 1, "nasops.", op, ": weights must be 1-D, got shape ", weights.sizes());
  TORCH_CHECK_VALUE(
      is_supported(grad.scalar_type()), "nasops.", op, ": grad has dtype ",
      dtype_name(grad.scalar_type()), "; ", kAccepted);
  TORCH_CHECK_VALUE(
      !weight_grad || static_cast<int64_t>(xs.size()) == weights.size(0), "nasops.", op,
      ": the weight gradient needs one input per weight, got ", xs.size(), " inputs and ",
      weights.size(0), " weights");
  for (size_t i = 0; i < xs.size(); ++i) {
    TORCH_CHECK_VALUE(
        xs[i].scalar_type() == grad.scalar_type() && xs[i].device() == grad.device(), "nasops.",
        op, ": xs[", i, "] must have grad's dtype ", dtype_name(grad.scalar_type()),
        " and device ", grad.device());
  }
  TORCH_CHECK_VALUE(
      weights.device() == grad.device(), "nasops.", op, ": weights is on device ",
      weights.device(), " but grad is on ", grad.device());
}

void check_concat_backward(
    const at::Tensor& grad,
    at::TensorList xs,
    const at::Tensor& weights,
    int64_t dim,
    at::IntArrayRef sizes,
    bool weight_grad) {
  const char* op = "weighted_concat_backward";
  check_backward(op, grad, xs, weights, weight_grad);
  TORCH_CHECK_VALUE(
      static_cast<int64_t>(sizes.size()) == weights.size(0), "nasops.", op, ": sizes has ",
      sizes.size(), " entries but weights has ", weights.size(0));
  TORCH_CHECK_VALUE(
      0 <= dim && dim < grad.dim(), "nasops.", op, ": dim ", dim,
      " is out of range for grad with ", grad.dim(), " dimensions");
  int64_t total = 0;
  for (int64_t size : sizes) {
    TORCH_CHECK_VALUE(size >= 0, "nasops.", op, ": sizes must be non-negative, got ", sizes);
    total += size;
  }
  TORCH_CHECK_VALUE(
      total == grad.size(dim), "nasops.", op, ": sizes sum to ", total, " but grad has ",
      grad.size(dim), " entries in dim ", dim);
}

void check_out(
    const char* op,
    const at::Tensor& out,
    at::IntArrayRef shape,
    at::TensorList xs,
    bool may_be_input,
    bool contiguous) {
  const at::Tensor& ref = xs[0];
  TORCH_CHECK_VALUE(
      out.scalar_type() == ref.scalar_type(), "nasops.", op, ": out has dtype ",
      dtype_name(out.scalar_type()), " but the inputs have dtype ", dtype_name(ref.scalar_type()));
  TORCH_CHECK_VALUE(
      out.device() == ref.device(), "nasops.", op, ": out is on device ", out.device(),
      " but the inputs are on ", ref.device());
  TORCH_CHECK_VALUE(
      out.sizes() == shape, "nasops.", op, ": out has shape ", out.sizes(),
      " but the result has shape ", shape);
  if (contiguous) {
    TORCH_CHECK_VALUE(
        out.is_contiguous(), "nasops.", op, ": out must be contiguous, got strides ",
        out.strides());
  } else {
    TORCH_CHECK_VALUE(
        out.is_non_overlapping_and_dense(), "nasops.", op,
        ": out must be dense (no gaps or overlapping elements), got strides ", out.strides());
  }
  const auto [first, last] = byte_span(out);
  for (size_t i = 0; i < xs.size(); ++i) {
    const auto [x_first, x_last] = byte_span(xs[i]);
    const bool disjoint = last <= x_first || x_last <= first;
    TORCH_CHECK_VALUE(
        disjoint || (may_be_input && same_view(out, xs[i])), "nasops.", op,
        ": out shares memory with xs[", i, "]; ",
        may_be_input ? "out may be one of the inputs but must not partly overlap any"
                     : "out must not overlap any input");
  }
}

}  // namespace nasops
