"""Turning a collective that failed because a peer died, raised or hung into one clear error.

gloo and nccl report a lost peer as a socket error or a timeout naming addresses, not ranks.
When one of nasops' collectives fails, the surviving ranks answer a roll call in the process
group's key-value store; the ranks that do not answer within :data:`ROLL_CALL_SECONDS` are the
ones named in the error. A rank that raised can leave its reason there first
(:func:`report_failure`), and the survivors quote it.
"""

import contextlib
import re
import time
from collections.abc import Iterator

import torch.distributed as dist

from nasops.distributed._state import get_rank, get_world_size

ROLL_CALL_SECONDS = 2.0
_ALIVE = "nasops/alive/{}"
_REASON = "nasops/failed/{}"


class RankFailure(RuntimeError):
    """Another rank died, raised or stopped responding, so this rank cannot go on."""


@contextlib.contextmanager
def collective(what: str) -> Iterator[None]:
    """Run the collective(s) of ``what``; a backend error becomes a :class:`RankFailure` that
    names the ranks that no longer answer."""
    try:
        yield
    except RankFailure:
        raise
    except RuntimeError as error:
        raise RankFailure(_describe(what, error)) from error


def report_failure(reason: str) -> None:
    """Leave ``reason`` (why this rank stops) where the other ranks' errors will quote it."""
    store = _store()
    if store is not None:
        with contextlib.suppress(Exception):
            store.set(_REASON.format(get_rank()), reason[:500])


def _describe(what: str, error: RuntimeError) -> str:
    rank, world = get_rank(), get_world_size()
    backend = _backend_reason(error)
    missing = _roll_call(rank, world)
    if missing is None:
        who = "rank 0 (which hosts the process group's store) is unreachable"
    elif missing:
        who = _named(missing, _reasons(missing))
    else:
        who = "every rank answered the roll call; the backend failed on its own"
    return (
        f"nasops.distributed: {what} failed on rank {rank} of {world}: {who} (backend: {backend})"
    )


def _backend_reason(error: RuntimeError) -> str:
    """The backend's message without its source-file prefix and advice: its first sentence."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = re.sub(r"^\[[^\]]*\]\s*", "", text)
    return re.split(r"\.\s", text, maxsplit=1)[0].rstrip(".")


def _named(missing: list[int], reasons: dict[int, str]) -> str:
    parts = []
    for rank in missing:
        reason = reasons.get(rank)
        parts.append(f"rank {rank} failed: {reason}" if reason else f"rank {rank} died or hung")
    return "; ".join(parts)


def _roll_call(rank: int, world: int) -> list[int] | None:
    """The ranks that do not mark themselves alive within the roll call (``None``: no store)."""
    store = _store()
    if store is None:
        return None
    try:
        store.set(_ALIVE.format(rank), "1")
        deadline = time.monotonic() + ROLL_CALL_SECONDS
        missing = [r for r in range(world) if r != rank]
        while missing and time.monotonic() < deadline:
            missing = [r for r in missing if not store.check([_ALIVE.format(r)])]
            if missing:
                time.sleep(0.05)
        return missing
    except Exception:  # the store went down with its host
        return None


def _reasons(ranks: list[int]) -> dict[int, str]:
    store = _store()
    reasons: dict[int, str] = {}
    if store is None:
        return reasons
    for r in ranks:
        with contextlib.suppress(Exception):
            if store.check([_REASON.format(r)]):
                reasons[r] = store.get(_REASON.format(r)).decode()
    return reasons


def _store() -> dist.Store | None:
    if not (dist.is_available() and dist.is_initialized()):
        return None
    try:
        return dist.distributed_c10d._get_default_store()
    except Exception:
        return None
