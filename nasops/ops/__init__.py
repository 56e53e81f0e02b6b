"""The fused mask-weighted reduction ops (``nasops::weighted_{sum,mean,concat}``)."""

from nasops.ops import _library  # noqa: F401  (registers the ops before anything calls them)
from nasops.ops.functional import REDUCTIONS, reduce, weighted_concat, weighted_mean, weighted_sum

__all__ = ["REDUCTIONS", "reduce", "weighted_concat", "weighted_mean", "weighted_sum"]
