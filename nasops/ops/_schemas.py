"""The ``nasops::`` operator schemas, as Python sees them.

``csrc/register.cpp`` defines the same strings for the compiled library; when it is absent
the fallback defines them from here. ``tests/ops/test_registration.py`` checks both agree.
"""

SCHEMAS: dict[str, str] = {
    "weighted_sum": "weighted_sum(Tensor[] xs, Tensor? weights) -> Tensor",
    "weighted_mean": "weighted_mean(Tensor[] xs, Tensor? weights) -> Tensor",
    "weighted_concat": "weighted_concat(Tensor[] xs, Tensor? weights, int dim=1) -> Tensor",
    "weighted_sum_out": "weighted_sum_out(Tensor[] xs, Tensor? weights, Tensor(a!) out) -> ()",
    "weighted_mean_out": "weighted_mean_out(Tensor[] xs, Tensor? weights, Tensor(a!) out) -> ()",
    "weighted_concat_out": (
        "weighted_concat_out(Tensor[] xs, Tensor? weights, int dim, Tensor(a!) out) -> ()"
    ),
    "weighted_sum_backward": (
        "weighted_sum_backward(Tensor grad, Tensor[] xs, Tensor weights, float scale, "
        "bool input_grads, bool weight_grad) -> (Tensor[], Tensor)"
    ),
    "weighted_concat_backward": (
        "weighted_concat_backward(Tensor grad, Tensor[] xs, Tensor weights, int dim, "
        "int[] sizes, bool input_grads, bool weight_grad) -> (Tensor[], Tensor)"
    ),
}

# Ops that take tensors and therefore need a kernel per device (``_build_info`` takes none).
TENSOR_OPS: tuple[str, ...] = tuple(SCHEMAS)
