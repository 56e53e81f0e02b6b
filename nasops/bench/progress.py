"""The progress bar of a benchmark level: tqdm when asked for and installed, else a silent one."""

from typing import Any


class NoBar:
    """A progress bar that shows nothing (``progress=False``, or tqdm missing)."""

    def set_postfix_str(self, text: str) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, enabled: bool, desc: str, unit: str) -> Any:
    """A tqdm bar of ``total`` ``unit`` s on stderr, or :class:`NoBar`."""
    if not enabled:
        return NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return NoBar()
    return tqdm(total=total, desc=desc, unit=unit, leave=True)
