"""Random search with weight sharing: one random sub-network per weight step, then the ranking
of random candidates by validation loss (shared with one-shot) picks the export."""

import json
import math

import pytest
import torch
from sampling_spaces import (
    BranchNet,
    CallCounter,
    export_and_apply,
    images,
    trainer_arguments,
)
from torch import nn
from torch.utils.data import TensorDataset

from nasops.algorithms.random import RandomMutator, RandomTrainer
from nasops.algorithms.ranking import rank_architectures
from nasops.mutables import LayerChoice


def _random_trainer(model: nn.Module | None = None, **kwargs) -> RandomTrainer:
    torch.manual_seed(0)
    trainer = RandomTrainer(**{**trainer_arguments(model or BranchNet()), **kwargs})
    trainer.progress = False
    return trainer


def test_each_weight_step_runs_one_random_candidate_per_layer_choice() -> None:
    trainer = _random_trainer(num_candidates=0)
    assert isinstance(trainer.mutator, RandomMutator)
    counter = CallCounter(trainer.model)
    trainer.train(validate=False)
    assert [sum(c) for c in counter.calls.values()] == [trainer.train_steps()] * 2
    assert trainer.best_architecture is None


class ConstantLogits(nn.Module):
    """A candidate whose logits ignore the input: it favours one class by ``margin``."""

    def __init__(self, favoured: int, margin: float) -> None:
        super().__init__()
        self.logits = torch.zeros(3)
        self.logits[favoured] = margin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(x), 3)


class ConstantNet(nn.Module):
    """Candidate 0 is the most confident in class 0, candidate 1 less so, candidate 2 wrong."""

    def __init__(self) -> None:
        super().__init__()
        ops = [ConstantLogits(0, 2.0), ConstantLogits(0, 0.5), ConstantLogits(1, 2.0)]
        self.head = LayerChoice(ops, key="head")
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x) * self.scale


def test_ranking_scores_each_candidate_by_its_mean_validation_loss_best_first() -> None:
    X, _ = images(8, seed=1).tensors
    class_zero = TensorDataset(X, torch.zeros(8, dtype=torch.long))
    trainer = _random_trainer(ConstantNet(), dataset_valid=class_zero, num_candidates=0)
    ranked = rank_architectures(trainer, trainer.mutator.sample_final, 12)
    assert len(ranked) == 12
    assert [r.loss for r in ranked] == sorted(r.loss for r in ranked)
    expected = [math.log(1 + 2 * math.exp(-2)), math.log(1 + 2 * math.exp(-0.5))]
    expected.append(math.log(2 + math.exp(2)))
    for r in ranked:
        assert r.loss == pytest.approx(expected[r.architecture["head"].tolist().index(True)])
    assert ranked[0].architecture["head"].tolist() == [True, False, False]


def test_ranking_needs_at_least_one_candidate() -> None:
    trainer = _random_trainer(num_candidates=0)
    with pytest.raises(ValueError, match="num_candidates must be a positive int, got 0"):
        rank_architectures(trainer, trainer.mutator.sample_final, 0)


def test_export_writes_the_ranked_best_in_nni_format(tmp_path) -> None:
    trainer = _random_trainer(num_candidates=5)
    trainer.train()
    path = tmp_path / "arch.json"
    trainer.export(str(path))
    exported = json.loads(path.read_text())
    best = trainer.best_architecture
    assert exported["left"] == best["left"].int().argmax().item()
    assert exported["join"] == ["left", "right"][best["join"].int().argmax().item()]
    assert path.read_text() == json.dumps(exported, indent=2, sort_keys=True)


def test_export_without_ranking_is_a_new_random_architecture_as_in_nni(tmp_path) -> None:
    trainer = _random_trainer(num_candidates=0)
    trainer.train(validate=False)
    path = tmp_path / "arch.json"
    trainer.export(str(path))
    exported = json.loads(path.read_text())
    assert exported["left"] in range(3) and exported["join"] in ("left", "right")


def test_trainer_rejects_a_negative_candidate_count() -> None:
    with pytest.raises(ValueError, match="num_candidates must be an int >= 0, got -2"):
        _random_trainer(num_candidates=-2)


def test_nni_pipeline_train_export_apply_to_a_fresh_model(backend: str, tmp_path) -> None:
    trainer = _random_trainer(num_candidates=4)
    trainer.train()
    assert len(trainer.history) == 1
    export_and_apply(trainer, BranchNet(), tmp_path)
