"""P-DARTS: switches, candidate dropping between stages, the widened export, and the stage loop
of ``PdartsTrainer`` (NNI v2.8 §3.12)."""

import inspect
import json

import pytest
import torch
from darts_spaces import OpsNet, accuracy, images
from torch import nn

from nasops.algorithms.pdarts import PdartsTrainer
from nasops.algorithms.pdarts.mutator import PdartsMutator
from nasops.callbacks import Callback
from nasops.fixed import apply_fixed_architecture

OP_NAMES = ["conv3", "conv1", "pool", "skip"]


def _set(mutator: PdartsMutator, key: str, logits: list[float]) -> None:
    with torch.no_grad():
        mutator.choices[key].copy_(torch.tensor(logits))


def test_signatures_are_nnis() -> None:
    assert list(inspect.signature(PdartsMutator).parameters) == [
        "model",
        "pdarts_epoch_index",
        "pdarts_num_to_drop",
        "switches",
    ]
    assert list(inspect.signature(PdartsTrainer).parameters) == [
        "model_creator",
        "init_layers",
        "metrics",
        "num_epochs",
        "dataset_train",
        "dataset_valid",
        "pdarts_num_layers",
        "pdarts_num_to_drop",
        "mutator",
        "batch_size",
        "workers",
        "device",
        "log_frequency",
        "callbacks",
        "unrolled",
        "arc_learning_rate",  # nasops' additions, after NNI's arguments
        "memory",
        "compile",
    ]


def test_without_switches_every_candidate_is_kept() -> None:
    mutator = PdartsMutator(OpsNet(), 0, [2, 1])
    assert mutator.switches == {"op": [True] * 4, "other": [True] * 3}
    assert [tuple(a.shape) for a in mutator.choices.values()] == [(5,), (4,)]
    assert PdartsMutator(OpsNet(), 0, [2, 1]).switches is not mutator.switches


def test_switched_off_candidates_are_deleted_from_every_layer_choice() -> None:
    model = OpsNet(layers=2)
    given = {"op": [True, False, True, False]}
    mutator = PdartsMutator(model, 1, [2, 1], given)
    assert [cell.names for cell in model.cells] == [["conv3", "pool"], ["conv3", "pool"]]
    assert len(model.other) == 3
    assert tuple(mutator.choices["op"].shape) == (3,)  # 2 kept + the zero op
    mutator.switches["op"][0] = False
    assert given == {"op": [True, False, True, False]}  # copied, not shared
    mutator.reset()
    assert model(images(2).tensors[0]).shape == (2, 3)


def test_drop_paths_switches_off_the_smallest_logits_of_the_kept_candidates() -> None:
    mutator = PdartsMutator(OpsNet(), 0, [2, 1])
    _set(mutator, "op", [0.3, -1.0, 0.5, 0.1, -9.0])  # the zero op's -9 does not count
    _set(mutator, "other", [0.2, -0.5, 0.0, -9.0])
    switches = mutator.drop_paths()
    assert switches == {"op": [True, False, True, False], "other": [True, False, False]}
    assert mutator.switches == {"op": [True] * 4, "other": [True] * 3}


def test_later_stages_drop_by_position_among_the_kept_candidates() -> None:
    stage1 = PdartsMutator(OpsNet(), 1, [1, 1], {"op": [True, False, True, True]})
    _set(stage1, "op", [0.4, 2.0, -0.3, -9.0])  # conv3, pool, skip: skip is the weakest
    _set(stage1, "other", [1.0, 0.0, 0.5, -9.0])
    assert stage1.drop_paths() == {"op": [True, False, True, False], "other": [True, False, True]}


def test_a_stage_that_keeps_no_candidate_is_refused() -> None:
    mutator = PdartsMutator(OpsNet(), 0, [3])
    switches = mutator.drop_paths()
    assert switches["other"] == [False, False, False]  # as NNI: dropping is not capped
    with pytest.raises(ValueError, match=r"switches\['other'\] = \[False, False, False\]"):
        PdartsMutator(OpsNet(), 1, [3, 1], switches)


def test_export_widens_masks_to_the_original_candidates() -> None:
    mutator = PdartsMutator(OpsNet(), 1, [2, 1], {"op": [False, True, True, False]})
    _set(mutator, "op", [0.1, 0.9, 5.0])  # pool (kept position 1) wins; zero op excluded
    exported = mutator.export()
    assert exported["op"].dtype == torch.bool
    assert exported["op"].tolist() == [False, False, True, False]
    assert len(exported["other"]) == 3 and exported["other"].sum() == 1


@pytest.mark.parametrize(
    ("switches", "match"),
    [
        ({"nope": [True]}, "switches has keys \\['nope'\\]"),
        ({"op": [True, False]}, "LayerChoice 'op' has 4 candidates"),
    ],
)
def test_bad_switches_are_refused(switches: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PdartsMutator(OpsNet(), 0, [1], switches)


class StageRecorder(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple] = []

    def build(self, model: nn.Module, mutator: nn.Module, trainer: object) -> None:
        super().build(model, mutator, trainer)
        self.events.append(("build", len(model.cells)))

    def on_epoch_begin(self, epoch: int) -> None:
        self.events.append(("begin", epoch))

    def on_epoch_end(self, epoch: int) -> None:
        self.events.append(("end", epoch))


def test_trainer_grows_the_network_and_drops_candidates_stage_by_stage(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    optimizers = []

    def model_creator(layers: int) -> tuple:
        model = OpsNet(layers)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        optimizers.append(optimizer)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 1, eta_min=0.001)
        return model, nn.CrossEntropyLoss(), optimizer, scheduler

    recorder = StageRecorder()
    trainer = PdartsTrainer(
        model_creator,
        init_layers=1,
        metrics=accuracy,
        num_epochs=1,
        dataset_train=images(8),
        dataset_valid=images(4, seed=1),
        pdarts_num_layers=[0, 1],
        pdarts_num_to_drop=[1, 1],
        batch_size=4,
        workers=0,
        device="cpu",
        callbacks=[recorder],
    )
    trainer.train()

    expected = [("build", 1), ("begin", 0), ("end", 0), ("build", 2), ("begin", 1), ("end", 1)]
    assert recorder.events == expected
    assert [opt.param_groups[0]["lr"] for opt in optimizers] == [0.001, 0.001]  # stepped
    last = trainer.mutator
    assert sum(last.switches["op"]) == 3 and sum(last.switches["other"]) == 2
    assert all(len(cell) == 3 for cell in last.model.cells)

    trainer.export("arc.json")
    arc = json.loads((tmp_path / "arc.json").read_text())
    assert len(arc["op"]) == 4 and sum(arc["op"]) == 1
    assert all(on <= kept for on, kept in zip(arc["op"], last.switches["op"], strict=True))
    fresh = OpsNet(2)
    apply_fixed_architecture(fresh, arc, verbose=False)
    assert fresh(images(2).tensors[0]).shape == (2, 3)


def test_trainer_needs_a_layer_count_per_stage() -> None:
    with pytest.raises(ValueError, match="pdarts_num_layers \\[0\\] needs one entry per stage"):
        PdartsTrainer(lambda n: None, 1, accuracy, 1, [], [], [0], [2, 1])


def test_validate_and_export_before_train_say_so() -> None:
    trainer = PdartsTrainer(lambda n: None, 1, accuracy, 1, [], [], [0], [1])
    with pytest.raises(RuntimeError, match="call train\\(\\) first"):
        trainer.validate()
