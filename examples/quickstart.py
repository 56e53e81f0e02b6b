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


def compare_speed(n: int) -> None:
    print(f"\nForward and forward+backward over K tensors of {n:,} float32 elements (median ms):")
    print(
        f"{'K':>3} {'python sum(w*x)':>16} {'nasops':>8} {'speed-up':>9} | {'fwd+bwd python':>15} {'nasops':>8} {'speed-up':>9}"
    )
    for k in (2, 4, 8):
        xs = [torch.randn(n, requires_grad=True) for _ in range(k)]
        w = torch.rand(k, requires_grad=True)
        with torch.no_grad():
            python = median_ms(lambda: sum(w[i] * xs[i] for i in range(k)))
            fused = median_ms(lambda: nasops.ops.weighted_sum(xs, w))
        python_fb = median_ms(lambda: sum(w[i] * xs[i] for i in range(k)).sum().backward())
        fused_fb = median_ms(lambda: nasops.ops.weighted_sum(xs, w).sum().backward())
        print(
            f"{k:>3} {python:>16.2f} {fused:>8.2f} {python / fused:>8.1f}x | "
            f"{python_fb:>15.2f} {fused_fb:>8.2f} {python_fb / fused_fb:>8.1f}x"
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
