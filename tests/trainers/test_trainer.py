"""The trainer layer: NNI's ``Trainer`` helpers, the callbacks, and the shared one-shot loop."""

import json
import logging
import os

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import nasops
from nasops import callbacks
from nasops.algorithms.base import OneShotTrainer
from nasops.algorithms.random import RandomMutator
from nasops.mutables import InputChoice, LayerChoice
from nasops.trainer import TorchTensorEncoder, Trainer, resolve_device


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = LayerChoice([nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(1, 4, 1)], key="conv")
        self.skip = InputChoice(n_candidates=2, n_chosen=1, key="skip")
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv(x))
        x = self.skip([x, torch.zeros_like(x)])
        return self.fc(x.mean((2, 3)))


class RandomStepTrainer(OneShotTrainer):
    """The smallest algorithm: a fresh random architecture and one weight step per batch."""

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        self.mutator.reset()
        return self.weight_step(*batch)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    return {"acc1": (logits.argmax(1) == y).float().mean().item()}


def dataset(n: int = 12, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(
        torch.randn(n, 1, 6, 6, generator=g), torch.randint(0, 3, (n,), generator=g)
    )


def make_trainer(epochs: int = 2, cbs: list | None = None, **kwargs) -> RandomStepTrainer:
    torch.manual_seed(0)
    model = TinyNet()
    trainer = RandomStepTrainer(
        model,
        RandomMutator(model),
        nn.CrossEntropyLoss(),
        accuracy,
        torch.optim.SGD(model.parameters(), lr=0.1),
        epochs,
        dataset(),
        dataset(6, seed=1),
        batch_size=4,
        workers=0,
        device="cpu",
        callbacks=cbs,
        **kwargs,
    )
    trainer.progress = False
    return trainer


class Recorder(callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, int]] = []

    def on_epoch_begin(self, epoch: int) -> None:
        self.events.append(("begin", epoch))

    def on_epoch_end(self, epoch: int) -> None:
        self.events.append(("end", epoch))


def test_nasops_and_nni_paths_export_the_trainers() -> None:
    assert nasops.Trainer is Trainer and nasops.BaseTrainer is nasops.base_trainer.BaseTrainer
    assert issubclass(Trainer, nasops.BaseTrainer)
    with pytest.raises(TypeError, match="abstract"):
        Trainer(*([None] * 13))


def test_callbacks_are_built_and_told_each_epoch_in_order() -> None:
    recorder = Recorder()
    trainer = make_trainer(epochs=2, cbs=[recorder])
    assert (recorder.model, recorder.mutator, recorder.trainer) == (
        trainer.model,
        trainer.mutator,
        trainer,
    )
    trainer.train()
    assert recorder.events == [("begin", 0), ("end", 0), ("begin", 1), ("end", 1)]


def test_history_records_train_and_valid_averages_per_epoch() -> None:
    trainer = make_trainer(epochs=2)
    trainer.train()
    assert [h["epoch"] for h in trainer.history] == [0, 1]
    for record in trainer.history:
        assert set(record["train"]) == {"acc1", "loss"} and set(record["valid"]) == {"acc1"}
        assert 0.0 <= record["valid"]["acc1"] <= 1.0


def test_training_changes_the_weights_and_validate_does_not() -> None:
    trainer = make_trainer(epochs=1)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.train(validate=False)
    assert trainer.history == []
    assert any(
        not torch.equal(a, p) for a, p in zip(before, trainer.model.parameters(), strict=True)
    )
    after = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.validate()
    assert all(torch.equal(a, p) for a, p in zip(after, trainer.model.parameters(), strict=True))
    assert trainer.history[-1]["epoch"] == -1


def test_lr_scheduler_callback_steps_once_per_epoch() -> None:
    trainer = make_trainer(epochs=3)
    scheduler = torch.optim.lr_scheduler.StepLR(trainer.optimizer, step_size=1, gamma=0.5)
    callback = callbacks.LRSchedulerCallback(scheduler)
    callback.build(trainer.model, trainer.mutator, trainer)
    trainer.callbacks.append(callback)
    trainer.train(validate=False)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / 8)
    with pytest.raises(ValueError, match="mode must be 'epoch'"):
        callbacks.LRSchedulerCallback(scheduler, mode="batch")


def test_export_writes_nni_json_sorted_with_indent_2(tmp_path) -> None:
    trainer = make_trainer()
    path = tmp_path / "arch.json"
    torch.manual_seed(3)
    trainer.export(str(path))
    text = path.read_text()
    arch = json.loads(text)
    assert list(arch) == ["conv", "skip"]
    assert text == json.dumps(arch, indent=2, sort_keys=True)
    assert arch["conv"] in (0, 1) and arch["skip"] in ([0], [1], 0, 1)


def test_architecture_and_model_checkpoints_per_epoch(tmp_path) -> None:
    arch_dir, model_dir = tmp_path / "arch", tmp_path / "model"
    cbs = [
        callbacks.ArchitectureCheckpoint(str(arch_dir)),
        callbacks.ModelCheckpoint(str(model_dir)),
    ]
    trainer = make_trainer(epochs=2, cbs=cbs)
    trainer.train(validate=False)
    assert sorted(os.listdir(arch_dir)) == ["epoch_0.json", "epoch_1.json"]
    assert sorted(os.listdir(model_dir)) == ["epoch_0.pth.tar", "epoch_1.pth.tar"]
    state = torch.load(model_dir / "epoch_1.pth.tar")
    assert state.keys() == trainer.model.state_dict().keys()
    assert "conv.0.weight" in state


def test_model_checkpoint_saves_the_module_inside_data_parallel(tmp_path) -> None:
    model = TinyNet()
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path))
    checkpoint.build(nn.DataParallel(model), None, None)
    checkpoint.on_epoch_end(0)
    assert torch.load(tmp_path / "epoch_0.pth.tar").keys() == model.state_dict().keys()


def test_checkpoint_is_not_implemented_as_in_nni() -> None:
    with pytest.raises(NotImplementedError, match="Not implemented yet"):
        make_trainer().checkpoint()


def test_tensor_encoder_writes_lists_and_warns_about_0_1_floats(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="nasops.trainer"):
        text = json.dumps(
            {"a": torch.tensor([True, False]), "b": torch.tensor([0.0, 1.0])},
            cls=TorchTensorEncoder,
        )
    assert json.loads(text) == {"a": [True, False], "b": [0.0, 1.0]}
    assert "Every element in [0.0, 1.0] is either 0 or 1." in caplog.text
    with pytest.raises(TypeError):
        json.dumps({"c": object()}, cls=TorchTensorEncoder)


def test_log_dir_is_created_only_by_enable_visualization(tmp_path, monkeypatch) -> None:
    pytest.importorskip("tensorboard")
    monkeypatch.chdir(tmp_path)
    trainer = make_trainer(epochs=1)
    assert not os.path.exists("logs")
    trainer.enable_visualization()
    graph = json.loads(open(os.path.join(trainer.log_dir, "graph.json")).read())
    assert set(graph["mutable"]) == {"conv", "skip"} and graph["node"]
    trainer.train(validate=False)
    lines = open(os.path.join(trainer.log_dir, "log")).read().splitlines()
    assert len(lines) == len(trainer.train_loader)
    assert set(json.loads(lines[0])) == {"conv", "skip"}


def test_log_frequency_logs_steps(caplog) -> None:
    trainer = make_trainer(epochs=1, log_frequency=2)
    with caplog.at_level(logging.INFO, logger="nasops.algorithms"):
        trainer.train()
    steps = [r.getMessage() for r in caplog.records if "Step [" in r.getMessage()]
    # 3 training steps log at steps 0 and 2; 2 validation steps log at step 0.
    assert [s.split("  ")[0] for s in steps] == [
        "Epoch [1/1] Step [1/3]",
        "Epoch [1/1] Step [3/3]",
        "Epoch [1/1] Step [1/2]",
    ]


def test_progress_bar_shows_one_bar_per_epoch(capsys) -> None:
    pytest.importorskip("tqdm")
    trainer = make_trainer(epochs=2)
    trainer.progress = True
    trainer.train(validate=False)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err


def test_device_none_picks_cuda_when_available_and_strings_are_accepted() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(None).type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    assert make_trainer().device == torch.device("cpu")


def test_a_trainer_without_train_step_says_what_to_implement() -> None:
    trainer = make_trainer()
    with pytest.raises(NotImplementedError, match="must implement train_step"):
        OneShotTrainer.train_step(trainer, None)


def test_split_train_pairs_a_weight_batch_with_an_architecture_batch_from_each_half() -> None:
    trainer = make_trainer(split_train=True)  # 12 samples: two halves of 6, batches of 4
    pairs = list(trainer.train_batches())
    assert trainer.train_steps() == len(pairs) == 2
    seen = [len(batch[1]) for pair in pairs for batch in pair]
    assert seen == [4, 4, 2, 2]


def test_ready_made_loaders_are_used_as_they_are_and_valid_is_the_test_loader() -> None:
    train = torch.utils.data.DataLoader(dataset(), batch_size=5)
    valid = torch.utils.data.DataLoader(dataset(6, seed=1), batch_size=3)
    trainer = make_trainer(loaders=(train, valid))
    assert trainer.train_loader is train
    assert trainer.valid_loader is trainer.test_loader is valid
    assert trainer.train_steps() == 3
    trainer.train()
    assert len(trainer.history) == 2


def test_given_loaders_cannot_be_split() -> None:
    train = torch.utils.data.DataLoader(dataset(), batch_size=5)
    with pytest.raises(ValueError, match="cannot split given loaders"):
        make_trainer(loaders=(train, train), split_train=True)
