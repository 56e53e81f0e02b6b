"""Training the found architecture from scratch and testing it: the number a search is judged by."""

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

RETRAIN_LR = 0.05
RETRAIN_MOMENTUM = 0.9
RETRAIN_WEIGHT_DECAY = 3.0e-4


def retrain(
    model: nn.Module,
    dataset: Dataset,
    epochs: int,
    batch_size: int,
    device: torch.device,
    progress: bool = True,
) -> list[dict[str, float]]:
    """Train ``model`` (a fixed architecture) on ``dataset`` with SGD, momentum and a cosine
    learning rate; returns each epoch's mean training loss and accuracy."""
    model.to(device)
    optimizer = torch.optim.SGD(
        model.parameters(), RETRAIN_LR, momentum=RETRAIN_MOMENTUM, weight_decay=RETRAIN_WEIGHT_DECAY
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    for epoch in _bar(range(epochs), progress, "retrain"):
        model.train()
        total_loss = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        for X, y in loader:
            X, y = X.to(device), y.to(device)
            optimizer.zero_grad()
            logits = model(X)
            loss = loss_fn(logits, y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            total_loss += loss.detach() * len(y)
            correct += (logits.argmax(dim=1) == y).sum()
        scheduler.step()
        count = len(loader.dataset)
        history.append(
            {"epoch": epoch + 1, "loss": total_loss.item() / count, "acc": correct.item() / count}
        )
    return history


def count_correct(
    model: nn.Module, dataset: Dataset, batch_size: int, device: torch.device
) -> tuple[int, int]:
    """``(correct, total)`` top-1 predictions of ``model`` (eval mode) on ``dataset``."""
    model.to(device).eval()
    correct, total = torch.zeros((), dtype=torch.int64, device=device), 0
    with torch.no_grad():
        for X, y in DataLoader(dataset, batch_size=batch_size, num_workers=0):
            X, y = X.to(device), y.to(device)
            correct += (model(X).argmax(dim=1) == y).sum()
            total += len(y)
    return int(correct.item()), total


def _bar(epochs: Iterable[int], progress: bool, desc: str) -> Iterable[Any]:
    if not progress:
        return epochs
    from tqdm.auto import tqdm

    return tqdm(epochs, desc=desc, leave=False, dynamic_ncols=True)
