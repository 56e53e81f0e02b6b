// Calls every nasops:: op through the dispatcher, as a LibTorch C++ user would, and checks the
// results against ATen compositions. Prints "N passed, N failed"; exits non-zero on failure.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/util/Exception.h>

#include <functional>
#include <iostream>
#include <string>
#include <tuple>
#include <vector>

namespace {

using OptTensor = std::optional<at::Tensor>;
using Grads = std::tuple<std::vector<at::Tensor>, at::Tensor>;

template <typename Signature>
c10::TypedOperatorHandle<Signature> op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

const auto weighted_sum = op<at::Tensor(at::TensorList, const OptTensor&)>("nasops::weighted_sum");
const auto weighted_mean = op<at::Tensor(at::TensorList, const OptTensor&)>("nasops::weighted_mean");
const auto weighted_concat =
    op<at::Tensor(at::TensorList, const OptTensor&, int64_t)>("nasops::weighted_concat");
const auto weighted_sum_out =
    op<void(at::TensorList, const OptTensor&, at::Tensor&)>("nasops::weighted_sum_out");
const auto sum_backward = op<Grads(const at::Tensor&, at::TensorList, const at::Tensor&, double, bool, bool)>(
    "nasops::weighted_sum_backward");
const auto concat_backward =
    op<Grads(const at::Tensor&, at::TensorList, const at::Tensor&, int64_t, at::IntArrayRef, bool, bool)>(
        "nasops::weighted_concat_backward");

int passed = 0;
int failed = 0;

void check(const std::string& name, const std::function<bool()>& body) {
  bool ok = false;
  try {
    ok = body();
  } catch (const std::exception& e) {
    std::cerr << name << ": unexpected exception: " << e.what() << "\n";
  }
  (ok ? passed : failed)++;
  std::cout << (ok ? "PASS " : "FAIL ") << name << "\n";
}

std::vector<at::Tensor> inputs(int k, at::IntArrayRef shape, at::ScalarType dtype) {
  std::vector<at::Tensor> xs;
  for (int i = 0; i < k; ++i) {
    xs.push_back(at::randn(shape, at::kDouble).to(dtype));
  }
  return xs;
}

at::Tensor reference_sum(const std::vector<at::Tensor>& xs, const at::Tensor& w) {
  at::Tensor total = at::zeros_like(xs[0], at::kDouble);
  for (size_t i = 0; i < xs.size(); ++i) {
    total += xs[i].to(at::kDouble) * w[i].item<double>();
  }
  return total;
}

}  // namespace

int main() {
  at::manual_seed(0);
  const at::Tensor w = at::tensor({0.5, -2.0, 1.5}, at::kFloat);

  check("weighted_sum float32", [&] {
    auto xs = inputs(3, {4, 1000}, at::kFloat);
    return at::allclose(weighted_sum.call(xs, w).to(at::kDouble), reference_sum(xs, w), 1e-5, 1e-5);
  });
  check("weighted_sum without weights", [&] {
    auto xs = inputs(3, {7}, at::kDouble);
    return at::allclose(weighted_sum.call(xs, std::nullopt), xs[0] + xs[1] + xs[2]);
  });
  check("weighted_mean bfloat16", [&] {
    auto xs = inputs(3, {64}, at::kBFloat16);
    auto expected = reference_sum(xs, w) / 3.0;
    return at::allclose(weighted_mean.call(xs, w).to(at::kDouble), expected, 2e-2, 6e-2);
  });
  check("weighted_concat dim -1", [&] {
    auto xs = inputs(3, {2, 3}, at::kFloat);
    auto expected = at::cat({xs[0] * 0.5, xs[1] * -2.0, xs[2] * 1.5}, -1);
    return at::allclose(weighted_concat.call(xs, w, -1), expected);
  });
  check("weighted_sum_out writes into out", [&] {
    auto xs = inputs(3, {4, 100}, at::kFloat);
    at::Tensor out = at::empty({4, 100}, at::kFloat);
    weighted_sum_out.call(xs, w, out);
    return at::equal(out, weighted_sum.call(xs, w));
  });
  check("weighted_sum_backward", [&] {
    auto xs = inputs(3, {5, 6}, at::kDouble);
    auto g = at::randn({5, 6}, at::kDouble);
    auto [grads, grad_w] = sum_backward.call(g, xs, w.to(at::kDouble), 1.0, true, true);
    bool ok = grads.size() == 3 && grad_w.size(0) == 3;
    for (int i = 0; i < 3; ++i) {
      ok = ok && at::allclose(grads[i], g * w[i].item<double>());
      ok = ok && std::abs(grad_w[i].item<double>() - (g * xs[i]).sum().item<double>()) < 1e-10;
    }
    return ok;
  });
  check("weighted_concat_backward", [&] {
    std::vector<at::Tensor> xs = {at::randn({2, 1}, at::kDouble), at::randn({2, 2}, at::kDouble)};
    auto g = at::randn({2, 3}, at::kDouble);
    auto weights = at::tensor({2.0, 3.0}, at::kDouble);
    auto [grads, grad_w] = concat_backward.call(g, xs, weights, 1, {1, 2}, true, true);
    return at::allclose(grads[1], g.narrow(1, 1, 2) * 3.0) &&
        std::abs(grad_w[0].item<double>() - (g.narrow(1, 0, 1) * xs[0]).sum().item<double>()) < 1e-10;
  });
  check("mismatched shapes raise a ValueError naming the input", [&] {
    try {
      weighted_sum.call({at::ones({2}), at::ones({3})}, std::nullopt);
    } catch (const c10::ValueError& e) {
      return std::string(e.what_without_backtrace()).find("xs[1] has shape [3]") != std::string::npos;
    }
    return false;
  });

  std::cout << passed << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}
