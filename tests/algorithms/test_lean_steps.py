"""The trainers' ``memory=`` and ``compile=`` options: a recompute step lands where the default
one does, the compiled DARTS forward traces whole, and it recompiles per shape, not per step."""

import pytest
import torch
import torch.nn.functional as F
from darts_spaces import OpsNet, TwoChoiceNet, accuracy, images

from nasops.algorithms.darts import DartsMutator, DartsTrainer
from nasops.algorithms.oneshot import OneshotTrainer
from nasops.algorithms.pdarts import PdartsTrainer
from nasops.callbacks import Callback


def _darts(model, dtype: torch.dtype = torch.float32, **options) -> DartsTrainer:
    trainer = DartsTrainer(
        model,
        F.cross_entropy,
        accuracy,
        torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        num_epochs=1,
        dataset_train=images(16, dtype=dtype),
        dataset_valid=images(8, seed=1, dtype=dtype),
        batch_size=8,
        workers=0,
        device="cpu",
        **options,
    )
    trainer.progress = False
    return trainer


def _batches(trainer: DartsTrainer):
    return next(iter(trainer.train_batches()))


@pytest.mark.parametrize(
    ("unrolled", "dtype", "tolerance"),
    # The unrolled step's finite-difference Hessian divides rounding noise by 2ε: float64.
    [(False, torch.float32, 1e-5), (True, torch.float64, 1e-9)],
)
def test_darts_recompute_step_lands_on_the_default_steps_weights_and_alphas(
    unrolled, dtype, tolerance
):
    states = {}
    for memory in ("default", "recompute"):
        torch.manual_seed(0)
        model = TwoChoiceNet().to(dtype)
        mutator = DartsMutator(model).to(dtype)
        trainer = _darts(model, mutator=mutator, memory=memory, unrolled=unrolled, dtype=dtype)
        torch.manual_seed(1)
        batch = _batches(trainer)
        trainer.train_step(batch)
        trainer.train_step(batch)
        states[memory] = [*trainer.model.state_dict().values(), *trainer.mutator.parameters()]
    for a, b in zip(states["default"], states["recompute"], strict=True):
        torch.testing.assert_close(b, a, atol=tolerance, rtol=tolerance)


def test_memory_reaches_the_mutators_of_every_trainer():
    assert _darts(TwoChoiceNet(), memory="recompute").mutator.memory == "recompute"
    model = OpsNet()
    oneshot = OneshotTrainer(
        model,
        F.cross_entropy,
        accuracy,
        torch.optim.SGD(model.parameters(), lr=0.1),
        1,
        images(8),
        images(4),
        workers=0,
        memory="recompute",
        num_candidates=0,
    )
    assert oneshot.mutator.memory == "recompute"
    stages = _pdarts(memory="recompute")
    stages.train()
    assert stages.mutator.memory == "recompute"


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"memory": "lean"}, ValueError, "memory must be one of"),
        ({"compile": 3}, TypeError, "compile must be a bool"),
        ({"compile": "eager", "memory": "recompute"}, ValueError, "cannot be combined"),
    ],
)
def test_bad_options_are_named(options, error, message):
    with pytest.raises(error, match=message):
        _darts(TwoChoiceNet(), **options)


class GraphCounter:
    """A torch.compile backend that counts the graphs it is given and runs them eagerly."""

    def __init__(self) -> None:
        self.graphs = 0

    def __call__(self, gm: torch.fx.GraphModule, example_inputs: list) -> object:
        self.graphs += 1
        return gm.forward


def test_darts_forward_traces_as_one_graph_without_breaks():
    torch._dynamo.reset()
    model = OpsNet(layers=2)
    DartsMutator(model).reset()
    explained = torch._dynamo.explain(model)(images(2).tensors[0])
    assert (explained.graph_count, explained.graph_break_count) == (1, 0)


def test_compiled_darts_steps_compile_once_per_grad_mode_then_never_again():
    torch._dynamo.reset()
    counter = GraphCounter()
    trainer = _darts(OpsNet(layers=2), compile=counter)
    batch = _batches(trainer)
    trainer.train_step(batch)
    assert counter.graphs == 2  # the architecture step (alphas need grad) and the weight step
    for _ in range(3):
        trainer.train_step(batch)
    assert counter.graphs == 2


def _pdarts(**options) -> PdartsTrainer:
    def create(layers: int):
        model = OpsNet(layers)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        return model, F.cross_entropy, optimizer, None

    trainer = PdartsTrainer(
        create,
        1,
        accuracy,
        1,
        images(16),
        images(4, seed=1),
        pdarts_num_layers=[0, 1],
        pdarts_num_to_drop=[1, 1],
        batch_size=4,
        workers=0,
        device="cpu",
        **options,
    )
    trainer.progress = False
    return trainer


def test_compiled_pdarts_recompiles_at_a_stage_change_only():
    torch._dynamo.reset()
    counter = GraphCounter()
    per_stage = []

    class Record(Callback):
        def on_epoch_end(self, epoch: int) -> None:
            per_stage.append(counter.graphs)

    trainer = _pdarts(compile=counter, callbacks=[Record()])
    trainer.train()  # two stages of 2 steps each (8 images a half, batch 4)
    assert per_stage == [2, 4]  # one graph per grad mode, again for the deeper, thinner stage


@pytest.mark.slow  # AOT autograd traces forward and backward: ~5 s on 2 cores
def test_compiled_step_matches_the_eager_step_through_aot_autograd():
    losses = {}
    for compile in (False, "aot_eager"):
        torch._dynamo.reset()
        torch.manual_seed(0)
        trainer = _darts(OpsNet(), compile=compile)
        batch = _batches(trainer)
        losses[compile] = [trainer.train_step(batch)["loss"] for _ in range(2)]
    assert losses["aot_eager"] == pytest.approx(losses[False], rel=1e-5, abs=1e-6)
