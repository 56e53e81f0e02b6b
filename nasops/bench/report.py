"""Writes a benchmark run as ``bench.json`` (every figure) and ``bench.md`` (readable tables)."""

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

HEADLINE_N_LOG2 = 24  # 64 MiB fp32 tensors: twice this VM's last-level cache, above mmap's cap
PEER_ORDER = ("python_sum", "stack_sum", "nni3_loop", "python_mean", "python_cat", "stock")


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=1, sort_keys=False, default=str) + "\n")


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(header: Sequence[str], lines: Iterable[Sequence[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_fmt(cell) for cell in line) + " |" for line in lines]
    return "\n".join(out)


def rows_table(rows: list[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Any level's rows as one table (columns: the first row's keys unless given)."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0])
    return table(columns, ([row.get(c) for c in columns] for row in rows))


def _index(rows: list[dict[str, Any]]) -> dict[tuple, dict[str, dict[str, Any]]]:
    """Rows grouped by case: (reduction, mode, dtype, k, n_log2) -> method -> row."""
    cases: dict[tuple, dict[str, dict[str, Any]]] = {}
    for row in rows:
        key = (row["reduction"], row["mode"], row["dtype"], row["k"], row["n_log2"])
        cases.setdefault(key, {})[row["method"]] = row
    return cases


def _ordered(methods: Iterable[str]) -> list[str]:
    return [m for m in PEER_ORDER if m in methods]


def headline_n_log2(rows: list[dict[str, Any]]) -> int:
    """N for the headline: 2^24 when measured, else the largest N of the run."""
    sizes = {row["n_log2"] for row in rows}
    return HEADLINE_N_LOG2 if HEADLINE_N_LOG2 in sizes else max(sizes)


def ops_markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no rows)"
    cases = _index(rows)
    parts = [_headline(cases, rows), _memory_table(cases, rows)]
    combos = sorted({key[:3] for key in cases}, key=lambda c: (c[2] != "float32", c[0], c[1]))
    for reduction, mode, dtype in combos:
        parts.append(_detail(cases, reduction, mode, dtype))
    return "\n\n".join(parts)


def _headline(cases: dict, rows: list[dict[str, Any]]) -> str:
    n_log2 = headline_n_log2(rows)
    dtype = "float32" if any(r["dtype"] == "float32" for r in rows) else rows[0]["dtype"]
    keys = sorted(k for k in cases if k[0] == "sum" and k[2] == dtype and k[4] == n_log2)
    if not keys:
        keys = sorted(k for k in cases if k[2] == dtype and k[4] == n_log2)
    others = _ordered({m for k in keys for m in cases[k]})
    header = ["reduction", "mode", "K", "nasops GB/s", "×TRIAD", *[f"vs {m}" for m in others]]
    lines = []
    for key in keys:
        case = cases[key]
        fused = case["nasops"]
        speedups = [_times(case[m]["fused_speedup"]) if m in case else "-" for m in others]
        lines.append(
            [key[0], key[1], key[3], fused["useful_gbs"], fused["ratio_to_triad"], *speedups]
        )
    title = (
        f"### Headline: {dtype}, N = 2^{n_log2}\n\n"
        "Useful GB/s of the fused op, its ratio to TRIAD measured in the same run, and how many "
        "times faster it ran than each method (ratio of medians, same run)."
    )
    return title + "\n\n" + table(header, lines)


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}×"


def _memory_table(cases: dict, rows: list[dict[str, Any]]) -> str:
    n_log2 = headline_n_log2(rows)
    dtype = "float32" if any(r["dtype"] == "float32" for r in rows) else rows[0]["dtype"]
    parts = [
        f"### Peak memory per call ({dtype}, N = 2^{n_log2}), in input tensors\n\n"
        "Most bytes a call held allocated at once (outputs, temporaries and gradients), divided "
        "by the size of one input tensor. The stock composition writes into buffers allocated "
        "once, outside the call (they still occupy 1 tensor forward, K+1 forward+backward)."
    ]
    for reduction in dict.fromkeys(k[0] for k in sorted(cases)):
        keys = sorted(k for k in cases if k[0] == reduction and k[2] == dtype and k[4] == n_log2)
        methods = ["nasops", *_ordered({m for k in keys for m in cases[k]})]
        lines = [
            [
                key[1],
                key[3],
                *[cases[key][m]["peak_tensors"] if m in cases[key] else None for m in methods],
            ]
            for key in keys
        ]
        parts.append(f"{reduction}:\n\n" + table(["mode", "K", *methods], lines))
    return "\n\n".join(parts)


def _detail(cases: dict, reduction: str, mode: str, dtype: str) -> str:
    keys = sorted(k for k in cases if k[:3] == (reduction, mode, dtype))
    keys.sort(key=lambda k: (k[4], k[3]))
    others = _ordered({m for k in keys for m in cases[k]})
    header = ["N", "K", "TRIAD GB/s", "nasops GB/s", "×TRIAD", *others]
    lines = []
    for key in keys:
        case = cases[key]
        fused = case["nasops"]
        cells = [
            f"{case[m]['useful_gbs']:.2f} ({case[m]['fused_speedup']:.2f}×)" if m in case else "-"
            for m in others
        ]
        triad = case["triad"]["useful_gbs"]
        lines.append(
            [f"2^{key[4]}", key[3], triad, fused["useful_gbs"], fused["ratio_to_triad"], *cells]
        )
    title = (
        f"### {reduction}, {mode}, {dtype}\n\n"
        "Useful GB/s per method; in brackets, how many times faster the fused op ran."
    )
    return title + "\n\n" + table(header, lines)


def machine_markdown(machine: dict[str, Any]) -> str:
    ext = machine["nasops_extension"]
    backend = ext["backend"]
    lines = [
        f"- command: `{machine['command']}` ({machine['date_utc']})",
        f"- CPU: {machine['cpu_model']}, {machine['usable_cores']} usable of "
        f"{machine['logical_cores']} logical cores, last-level cache {machine['last_level_cache']}",
        f"- threads: {machine['threads']} (torch.set_num_threads); device: {machine['device']}"
        + (f" ({machine['cuda_device']})" if "cuda_device" in machine else ""),
        f"- torch {machine['torch']} (CPU capability {machine['torch_cpu_capability']}), "
        f"nasops {machine['nasops']}, backend **{backend}**"
        + (f" ({ext['reason']})" if ext.get("reason") else "")
        + (f", CPU loops {ext['cpu_loops']}" if "cpu_loops" in ext else ""),
        f"- allocator: {machine['allocator']['summary']}",
    ]
    if backend != "compiled":
        lines.append(
            "- **The fused figures are the pure-PyTorch fallback, not the compiled kernels: they "
            "say nothing about nasops' fused performance.**"
        )
    return "\n".join(lines)


def markdown(machine: dict[str, Any], levels: list[Any]) -> str:
    parts = ["# nasops bench", machine_markdown(machine)]
    for level in levels:
        parts.append(f"## Level: {level.name}")
        parts.append(f"Skipped: {level.skipped}" if level.skipped else level.markdown)
    return "\n\n".join(parts) + "\n"
