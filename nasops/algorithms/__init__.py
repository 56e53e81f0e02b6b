"""Search algorithms on the NNI v1 API, mirroring ``nni.algorithms.nas.pytorch``."""
