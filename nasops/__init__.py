"""nasops: one-shot neural architecture search on fused mask-weighted reduction ops."""

from nasops import ops
from nasops._extension import extension_info, has_extension

__version__ = "0.1.0"

__all__ = ["__version__", "extension_info", "has_extension", "ops"]
