"""SPOS search of seed 004's ShuffleNetV2 space with the mmrazor-compatible API, on digits.

1. Train a supernet, ``SearchableShuffleNetV2`` at a small width: every block is a
   ``OneShotMutableOP`` of the seed's four candidates (``ShuffleBlock`` 3x3/5x5/7x7 and
   ``ShuffleXception``); one random path per step with ``NasMutator.sample_choices`` and
   ``set_choices``.
2. Search: a small evolutionary search over ``set_choices``, scored on a validation split with
   the shared supernet weights.
3. ``export_fix_subnet`` the best path, build a fresh model, ``load_fix_subnet`` it and retrain
   the fixed subnet; print its test accuracy.

Run ``python examples/razor_spos.py --help`` for the size and epoch flags. The functions are
importable, so other tools can drive the same search.
"""

import argparse
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from nasops.razor import (
    NasMutator,
    OneShotMutableOP,
    export_fix_subnet,
    load_fix_subnet,
    save_fix_subnet,
)
from nasops.razor.architectures import SearchableShuffleNetV2, ShuffleBlock, ShuffleXception

Choices = dict[str, str]


@dataclass
class Split:
    x: torch.Tensor
    y: torch.Tensor


def load_digits_splits(n_samples: int | None = None, seed: int = 0) -> tuple[Split, Split, Split]:
    """The bundled 8x8 digits as (train, val, test) = 60/20/20 %, pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    if n_samples is not None:
        order = order[:n_samples]
    n_train, n_val = int(0.6 * len(order)), int(0.2 * len(order))
    parts = order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]
    return tuple(Split(x[p], y[p]) for p in parts)  # type: ignore[return-value]


# Seed 004's stage mutable; with mmengine the same config can name the types as strings
# (type='OneShotMutableOP', candidates=dict(shuffle_3x3=dict(type='ShuffleBlock', ...))).
STAGE_MUTABLE = {
    "type": OneShotMutableOP,
    "candidates": {
        "shuffle_3x3": {"type": ShuffleBlock, "kernel_size": 3},
        "shuffle_5x5": {"type": ShuffleBlock, "kernel_size": 5},
        "shuffle_7x7": {"type": ShuffleBlock, "kernel_size": 7},
        "shuffle_xception": {"type": ShuffleXception},
    },
}
IMAGE_SIZE = 16  # the 8x8 digits are upsampled, so that three stride-2 stages keep 2x2 maps


class Supernet(nn.Module):
    """``SearchableShuffleNetV2`` with ``depth`` searchable blocks in two stages (``width`` and
    ``2 * width`` channels, both even), average pooling and a linear classifier.
    """

    def __init__(self, width: int = 16, depth: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        if width % 2 or width < 2 or depth < 2:
            raise ValueError(f"width must be even and depth >= 2, got {width} and {depth}")
        first = (depth + 1) // 2
        arch_setting = [[width, first, STAGE_MUTABLE], [2 * width, depth - first, STAGE_MUTABLE]]
        self.backbone = SearchableShuffleNetV2(
            arch_setting, stem_multiplier=1, out_indices=(1,), with_last_layer=False
        )
        self.backbone.init_weights()
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=IMAGE_SIZE, mode="bilinear", align_corners=False)
        (features,) = self.backbone(x.expand(-1, 3, -1, -1))  # the stem takes 3 channels
        return self.head(features)


def train(
    model: nn.Module,
    data: Split,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-2,
    before_step: Callable[[], None] | None = None,
    progress: bool = True,
    desc: str = "train",
) -> float:
    """Train with Adam; ``before_step`` runs before every step (SPOS: sample a new path).

    Returns the mean loss of the last epoch.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    last = float("nan")
    bar = tqdm(range(epochs), desc=desc, disable=not progress)
    for _ in bar:
        order = torch.randperm(len(data.y))
        total, steps = 0.0, 0
        model.train()
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            if before_step is not None:
                before_step()
            loss = F.cross_entropy(model(data.x[batch]), data.y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, steps = total + loss.item(), steps + 1
        last = total / max(steps, 1)
        bar.set_postfix(loss=f"{last:.3f}")
    return last


@torch.no_grad()
def accuracy(model: nn.Module, data: Split) -> float:
    model.eval()
    return (model(data.x).argmax(dim=1) == data.y).float().mean().item()


def train_supernet(
    supernet: Supernet, mutator: NasMutator, data: Split, epochs: int, **kwargs
) -> float:
    """SPOS supernet training: a uniformly sampled path for every step."""
    return train(
        supernet,
        data,
        epochs,
        before_step=lambda: mutator.set_choices(mutator.sample_choices()),
        desc="supernet",
        **kwargs,
    )


def score(supernet: nn.Module, mutator: NasMutator, choices: Choices, data: Split) -> float:
    """Validation accuracy of one path with the shared supernet weights."""
    mutator.set_choices(choices)
    return accuracy(supernet, data)


def _mutate(mutator: NasMutator, choices: Choices, prob: float, rng: random.Random) -> Choices:
    fresh = mutator.sample_choices()
    return {k: fresh[k] if rng.random() < prob else v for k, v in choices.items()}


def _crossover(a: Choices, b: Choices, rng: random.Random) -> Choices:
    return {k: rng.choice((a[k], b[k])) for k in a}


def evolution_search(
    supernet: nn.Module,
    mutator: NasMutator,
    data: Split,
    population: int = 8,
    generations: int = 3,
    top_k: int = 3,
    mutate_prob: float = 0.3,
    seed: int = 0,
    progress: bool = True,
) -> tuple[Choices, float]:
    """Evolutionary search (as mmrazor's ``EvolutionSearchLoop``, small): keep the ``top_k``
    paths, refill the population with their mutations and crossovers. Returns the best path
    and its validation accuracy.
    """
    rng = random.Random(seed)
    random.seed(seed)
    scored: dict[tuple, float] = {}

    def evaluate(choices: Choices) -> float:
        key = tuple(sorted(choices.items()))
        if key not in scored:
            scored[key] = score(supernet, mutator, choices, data)
        return scored[key]

    candidates = [mutator.sample_choices() for _ in range(population)]
    for _ in tqdm(range(generations), desc="search", disable=not progress):
        ranked = sorted(candidates, key=evaluate, reverse=True)
        parents = ranked[:top_k]
        children = []
        while len(children) < population - len(parents):
            if rng.random() < 0.5:
                children.append(_mutate(mutator, rng.choice(parents), mutate_prob, rng))
            else:
                children.append(_crossover(rng.choice(parents), rng.choice(parents), rng))
        candidates = parents + children
    best = max(candidates, key=evaluate)
    return best, evaluate(best)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=None, help="use a subset of the digits")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10, help="supernet training epochs")
    parser.add_argument("--retrain-epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--population", type=int, default=8)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subnet-out", type=Path, default=None, help="write the subnet YAML")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> float:
    """Run the whole search; returns (and prints) the retrained subnet's test accuracy."""
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    progress = not args.no_progress
    train_set, val_set, test_set = load_digits_splits(args.samples, args.seed)
    fit = {"batch_size": args.batch_size, "lr": args.lr, "progress": progress}

    supernet = Supernet(args.width, args.depth)
    mutator = NasMutator()
    mutator.prepare_from_supernet(supernet)
    train_supernet(supernet, mutator, train_set, args.epochs, **fit)
    best, val_acc = evolution_search(
        supernet,
        mutator,
        val_set,
        population=args.population,
        generations=args.generations,
        seed=args.seed,
        progress=progress,
    )
    mutator.set_choices(best)
    subnet, _ = export_fix_subnet(supernet)
    print(f"best path {[d.chosen for d in subnet.values()]}: val accuracy {val_acc:.3f}")
    if args.subnet_out is not None:
        save_fix_subnet(subnet, args.subnet_out)

    model = Supernet(args.width, args.depth)
    load_fix_subnet(model, subnet)
    train(model, train_set, args.retrain_epochs, desc="retrain", **fit)
    test_acc = accuracy(model, test_set)
    print(f"test accuracy {test_acc:.3f}")
    return test_acc


if __name__ == "__main__":
    main()
