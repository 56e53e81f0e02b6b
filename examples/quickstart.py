"""A first look at nasops: the fused ops, their gradients, and their speed against Python sum.

python examples/quickstart.py [--n 4194304] [--threads 2]
"""

import argparse
import statistics
import time

import torch

import nasops


def median_ms(fn, repeat: int = 7) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def show_the_ops() -> None:
    xs = [torch.full((2, 3), float(i + 1)) for i in range(3)]  # 1s, 2s and 3s
    weights = torch.tensor([0.5, 0.25, -1.0], requires_grad=True)
    print("weighted_sum    :", nasops.ops.weighted_sum(xs, weights)[0].tolist())
    print("weighted_mean   :", nasops.ops.weighted_mean(xs, weights)[0].tolist())
    print("weighted_concat :", nasops.ops.weighted_concat(xs, weights, dim=1)[0].tolist())
    nasops.ops.weighted_sum(xs, weights).sum().backward()
    print("d sum / d w     :", weights.grad.tolist(), "(= <grad, x_i>)")


def python_sum(xs: list[torch.Tensor], w: torch.Tensor) -> torch.Tensor:
    """The reduction as NNI v1, mmrazor and DARTS write it."""
    return sum(w[i] * x for i, x in enumerate(xs))


def time_k(k: int, n: int) -> tuple[float, float, float, float]:
    """Median ms of the forward and of forward+backward, Python sum then nasops."""
    xs = [torch.randn(n, requires_grad=True) for _ in range(k)]
    w = torch.rand(k, requires_grad=True)
    with torch.no_grad():
        python = median_ms(lambda: python_sum(xs, w))
        fused = median_ms(lambda: nasops.ops.weighted_sum(xs, w))
    python_fb = median_ms(lambda: python_sum(xs, w).sum().backward())
    fused_fb = median_ms(lambda: nasops.ops.weighted_sum(xs, w).sum().backward())
    return python, fused, python_fb, fused_fb


def compare_speed(n: int) -> None:
    print(f"\nK float32 tensors of {n:,} elements, median ms (forward | forward+backward):")
    print(f"{'K':>3} {'python sum':>11} {'nasops':>8} {'speed-up':>9} |", end="")
    print(f" {'python sum':>11} {'nasops':>8} {'speed-up':>9}")
    for k in (2, 4, 8):
        python, fused, python_fb, fused_fb = time_k(k, n)
        print(
            f"{k:>3} {python:>11.2f} {fused:>8.2f} {python / fused:>8.1f}x |"
            f" {python_fb:>11.2f} {fused_fb:>8.2f} {python_fb / fused_fb:>8.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1 << 22, help="elements per tensor")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    info = nasops.extension_info()
    print(f"nasops {nasops.__version__}, torch {torch.__version__}, {args.threads} threads")
    print(f"backend: {info['backend']}" + (f" ({info['reason']})" if info["reason"] else ""))
    show_the_ops()
    compare_speed(args.n)


if __name__ == "__main__":
    main()
