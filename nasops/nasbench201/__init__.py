"""The NAS-Bench-201 search space (NNI v1's ``nni.nas.pytorch.nasbench201``)."""

from nasops.nasbench201.nasbench201 import NASBench201Cell

__all__ = ["NASBench201Cell"]
