"""Running averages for training logs (NNI v1's ``AverageMeter`` and ``AverageMeterGroup``)."""

from collections import OrderedDict
from collections.abc import Mapping


class AverageMeter:
    """The latest value and the running (optionally count-weighted) average of one metric.

    Args:
        name: label shown by ``str()`` and ``summary()``.
        fmt: format spec for the numbers, e.g. ``":4f"``.
    """

    def __init__(self, name: str, fmt: str = ":f") -> None:
        self.name = name
        self.fmt = fmt
        self.reset()

    def reset(self) -> None:
        """Forget every value seen."""
        self.val: float = 0
        self.avg: float = 0
        self.sum: float = 0
        self.count: float = 0

    def update(self, val: float, n: float = 1) -> None:
        """Account for ``val`` observed ``n`` times (e.g. a batch mean over ``n`` samples)."""
        self.val = val
        self.sum += val * n
        self.count += n
        self.avg = self.sum / self.count

    def __str__(self) -> str:
        return ("{name} {val" + self.fmt + "} ({avg" + self.fmt + "})").format(**self.__dict__)

    def summary(self) -> str:
        """``name: average``."""
        return ("{name}: {avg" + self.fmt + "}").format(**self.__dict__)


class AverageMeterGroup:
    """Meters by metric name, created on first update; read them as attributes or items."""

    def __init__(self) -> None:
        self.meters: OrderedDict[str, AverageMeter] = OrderedDict()

    def update(self, data: Mapping[str, float]) -> None:
        """Update (or create) one meter per entry of ``data``."""
        for name, value in data.items():
            if name not in self.meters:
                self.meters[name] = AverageMeter(name, ":4f")
            self.meters[name].update(value)

    def __getattr__(self, item: str) -> AverageMeter:
        # Only reached for names that are not real attributes; guard ``meters`` itself so a
        # half-built instance (e.g. during unpickling) raises AttributeError, not recursion.
        if item == "meters":
            raise AttributeError(item)
        return self.meters[item]

    def __getitem__(self, item: str) -> AverageMeter:
        return self.meters[item]

    def __str__(self) -> str:
        return "  ".join(str(meter) for meter in self.meters.values())

    def summary(self) -> str:
        """The averages of every meter on one line."""
        return "  ".join(meter.summary() for meter in self.meters.values())
