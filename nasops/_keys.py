"""Mutable keys: the process-wide counter behind automatic keys, and key normalisation."""

import logging

_logger = logging.getLogger("nasops.mutables")
_counter = 0


def global_mutable_counting() -> int:
    """Advance the process-wide counter and return its new value (the first call returns 1)."""
    global _counter
    _counter += 1
    return _counter


def _reset_global_mutable_counting() -> None:
    """Restart automatic keys at 1.

    Call it before building each model of a search/retrain pair in one process: automatic keys
    are ``ClassName + counter``, so the second model's keys only match the first's (and its
    exported architecture) when both start from the same counter value.
    """
    global _counter
    _counter = 0


def make_key(owner: object, key: object) -> str:
    """``key`` as a string, or ``ClassName<n>`` from the counter when ``key`` is None.

    An explicit key does not consume a counter value.
    """
    if key is None:
        return type(owner).__name__ + str(global_mutable_counting())
    if not isinstance(key, str):
        key = str(key)
        _logger.warning('Warning: key "%s" is not string, converted to string.', key)
    return key
