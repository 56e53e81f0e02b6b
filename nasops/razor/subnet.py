"""Subnet export and load: ``{alias or module name: DumpChosen}`` and its portable YAML form."""

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from nasops.razor._walk import named_source_mutables
from nasops.razor.base import DumpChosen
from nasops.razor.errors import RuntimeAssertionError

FixSubnet = dict[str, DumpChosen]


def _plain(value: Any) -> Any:
    """``value`` as plain Python (str, int, float, bool, lists), for portable YAML/JSON."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "tolist"):  # numpy scalars and arrays, tensors
        return _plain(value.tolist())
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if value is None:
        return None
    raise TypeError(f"cannot export {value!r} ({type(value).__name__}) as a plain value")


def export_fix_subnet(
    model: nn.Module,
    export_subnet_mode: str = "mutable",
    slice_weight: bool = False,
    export_channel: bool = False,
) -> tuple[FixSubnet, nn.Module | None]:
    """The current choice of every mutable in ``model``, keyed by alias or module name.

    Derived mutables are exported through their sources. With ``slice_weight`` the second
    item is a fixed deep copy of ``model`` holding only the chosen weights; otherwise None.
    ``export_channel`` belongs to mmrazor's pruning mode and is accepted only as False.
    """
    if export_subnet_mode != "mutable":
        raise ValueError(
            f"export_subnet_mode={export_subnet_mode!r} is not supported; nasops exports NAS "
            "subnets, mode 'mutable' (mmrazor's 'mutator' mode is for pruning)"
        )
    if export_channel:
        raise ValueError("export_channel=True belongs to the pruning ('mutator') mode")
    fix_subnet: FixSubnet = {}
    for name, m in named_source_mutables(model).items():
        dump = m.dump_chosen()
        # A custom mutable written to mmrazor's guide returns the bare choice.
        fix_subnet[m.alias or name] = dump if isinstance(dump, DumpChosen) else DumpChosen(dump)
    sliced = None
    if slice_weight:
        sliced = copy.deepcopy(model)
        load_fix_subnet(sliced, fix_subnet)
    return fix_subnet, sliced


def convert_fix_subnet(fix_subnet: Mapping[str, DumpChosen]) -> dict[str, dict[str, Any]]:
    """``{key: {'chosen': value}}`` with plain Python values (the on-disk form; meta dropped)."""
    converted = {}
    for key, dump in fix_subnet.items():
        if not isinstance(dump, DumpChosen):
            raise TypeError(f"fix_subnet[{key!r}] must be a DumpChosen, got {dump!r}")
        converted[str(key)] = {"chosen": _plain(dump.chosen)}
    return converted


def save_fix_subnet(fix_subnet: Mapping[str, DumpChosen], path: str | Path) -> None:
    """Write ``fix_subnet`` as portable YAML (``.yaml``/``.yml``) or JSON (``.json``)."""
    path = Path(path)
    data = convert_fix_subnet(fix_subnet)
    if path.suffix == ".json":
        path.write_text(json.dumps(data, indent=2) + "\n")
        return
    import yaml

    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _read(path: Path) -> Any:
    if path.suffix == ".json":
        return json.loads(path.read_text())
    if path.suffix not in (".yaml", ".yml"):
        raise ValueError(f"subnet file {str(path)!r} must end in .yaml, .yml or .json")
    import yaml

    return yaml.safe_load(path.read_text())


def _chosen(key: str, value: Any) -> Any:
    if isinstance(value, DumpChosen):
        return value.chosen
    if isinstance(value, Mapping):
        extra = set(value) - {"chosen", "meta"}
        if "chosen" not in value or extra:
            raise TypeError(
                f"subnet entry {key!r} must hold 'chosen' (and optionally 'meta'), got {value!r}"
            )
        return value["chosen"]
    return value


def load_fix_subnet(
    model: nn.Module,
    subnet_dict: str | Path | Mapping[str, Any],
    load_subnet_mode: str = "mutable",
    prefix: str = "",
    extra_prefix: str = "",
) -> None:
    """Fix every mutable of ``model`` to its entry in ``subnet_dict``.

    Args:
        model: the supernet; its mutables are fixed in place (unchosen candidates dropped).
        subnet_dict: a dict, or a YAML/JSON file, of ``{alias or name: {'chosen': value}}``;
            a ``DumpChosen`` or a bare value is accepted as the entry too.
        load_subnet_mode: only ``'mutable'`` (NAS subnets).
        prefix: removed from the start of module names before lookup (e.g. ``'architecture.'``
            when the subnet was exported from the inner model).
        extra_prefix: prepended to module names before lookup; exclusive with ``prefix``.
    """
    if prefix and extra_prefix:
        raise RuntimeError("give prefix or extra_prefix, not both")
    if load_subnet_mode != "mutable":
        raise ValueError(f"load_subnet_mode={load_subnet_mode!r} is not supported; use 'mutable'")
    if isinstance(subnet_dict, str | Path):
        subnet_dict = _read(Path(subnet_dict))
    if not isinstance(subnet_dict, Mapping):
        raise TypeError(
            "subnet_dict must be a dict or the path of a YAML/JSON file, got "
            f"{type(subnet_dict).__name__}"
        )
    registered = {id(x) for x in model.modules()}
    for name, m in named_source_mutables(model).items():
        # Fixing a route drops its unchosen edges, which then need no entry.
        dropped = id(m) in registered and all(x is not m for x in model.modules())
        if m.is_fixed or dropped:
            continue
        if m.alias is not None:
            key = m.alias
            if key not in subnet_dict:
                raise RuntimeAssertionError(
                    f"alias {key!r} is not in subnet_dict (keys {list(subnet_dict)})"
                )
        else:
            if prefix and name.startswith(prefix):
                name = name[len(prefix) :]
            key = extra_prefix + name
            if key not in subnet_dict:
                raise RuntimeError(
                    f"module name {key!r} is not in subnet_dict (keys {list(subnet_dict)})"
                )
        m.fix_chosen(_chosen(key, subnet_dict[key]))
