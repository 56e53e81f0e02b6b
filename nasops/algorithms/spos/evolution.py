"""``SPOSEvolution``: the SPOS evolutionary search over a trained supernet, as an NNI tuner.

Speaks NNI's tuner protocol (``update_search_space``, ``generate_multiple_parameters``,
``receive_trial_result``, ``trial_end``) on classic-mode parameters, and can also be driven
in-process through ``generate_parameters``.
"""

import json
import logging
import os
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from nasops.algorithms.classic_nas.space import INPUT_CHOICE, LAYER_CHOICE

_logger = logging.getLogger("nasops.algorithms")

Candidate = dict[str, dict[str, Any]]


class NoMoreTrialError(RuntimeError):
    """No candidate can be handed out now: the round waits for its results, or is the last."""


class Tuner:
    """The methods NNI's dispatcher calls on a tuner (those of ``nni.tuner.Tuner``)."""

    def update_search_space(self, search_space: dict[str, Any]) -> None:
        """Receive the search space (classic mode's JSON, key → ``{"_type", "_value"}``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement update_search_space")

    def generate_parameters(self, parameter_id: int, **kwargs: Any) -> Any:
        """The parameters of the trial ``parameter_id``."""
        raise NotImplementedError(f"{type(self).__name__} must implement generate_parameters")

    def generate_multiple_parameters(self, parameter_id_list: list[int], **kwargs: Any) -> list:
        """:meth:`generate_parameters` for each id, stopping at the first ``NoMoreTrialError``."""
        result = []
        for parameter_id in parameter_id_list:
            try:
                result.append(self.generate_parameters(parameter_id, **kwargs))
            except NoMoreTrialError:
                break
        return result

    def receive_trial_result(
        self, parameter_id: int, parameters: Any, value: Any, **kwargs: Any
    ) -> None:
        """The final result ``value`` of the trial ``parameter_id``."""
        raise NotImplementedError(f"{type(self).__name__} must implement receive_trial_result")

    def trial_end(self, parameter_id: int, success: bool, **kwargs: Any) -> None:
        """The trial ``parameter_id`` ended (``success`` False: failed or killed)."""


class SPOSEvolution(Tuner):
    """Evolution over the architectures of a trained SPOS supernet (Guo et al. 2020).

    Each round (an "epoch") evaluates a population of ``num_population`` architectures, one
    trial each; the ``num_select`` best (highest reward) are written to
    ``checkpoints/{epoch:03d}_{rank:03d}.json`` and breed the next population:
    ``num_mutation`` mutants (each choice redrawn with probability ``m_prob``),
    ``num_crossover`` children (each choice from one of two random parents), then random
    architectures up to ``num_population``. No architecture is evaluated twice. After
    ``max_epochs`` rounds the last selection is exported and nothing more is sent. The first
    round's random population is exported too, as ``000_*.json``.

    Parameters are classic mode's (``{key: {"_value": name, "_idx": i}}``), applied by the
    trial with ``get_and_apply_next_architecture``; the exported files are NNI's one-hot bool
    lists, which ``apply_fixed_architecture`` reads. Subclasses may override
    :meth:`_is_legal` to reject architectures (NNI's SPOS example bounds their flops).
    Draws come from ``numpy.random.RandomState(0)`` and, for the mutation coin flips, from
    numpy's global generator, as in NNI.

    Args:
        max_epochs: rounds of evaluation.
        num_select: architectures kept (and exported) from each round.
        num_population: architectures evaluated per round.
        m_prob: probability that a mutation redraws each choice.
        num_crossover: children made by crossover per round (at most).
        num_mutation: children made by mutation per round (at most).
        checkpoint_dir: where the selections are written (a nasops addition; NNI always
            writes ``checkpoints`` in the working directory); ``None``: nowhere.
    """

    def __init__(
        self,
        max_epochs: int = 20,
        num_select: int = 10,
        num_population: int = 50,
        m_prob: float = 0.1,
        num_crossover: int = 25,
        num_mutation: int = 25,
        checkpoint_dir: str | os.PathLike[str] | None = "checkpoints",
    ) -> None:
        if num_population < num_select:
            raise ValueError(
                f"num_population must be >= num_select, got num_population={num_population!r} "
                f"and num_select={num_select!r}"
            )
        self.max_epochs = max_epochs
        self.num_select = num_select
        self.num_population = num_population
        self.m_prob = m_prob
        self.num_crossover = num_crossover
        self.num_mutation = num_mutation
        self.checkpoint_dir = checkpoint_dir
        self.epoch = 0
        self.candidates: list[Candidate] = []
        self.random_state = np.random.RandomState(0)
        self._search_space: dict[str, Any] | None = None
        self._to_evaluate_queue: deque[Candidate] = deque()
        self._sending_parameter_queue: deque[int] = deque()
        self._pending_result_ids: set[int] = set()
        self._reward_dict: dict[str, float] = {}
        self._id2candidate: dict[int, Candidate] = {}
        self._st_callback: Callable[[int, Candidate], Any] | None = None

    # -------------------------------------------------------------------- the tuner protocol

    def update_search_space(self, search_space: dict[str, Any]) -> None:
        """Take the search space and queue the next round (the first: random architectures).

        Raises:
            NotImplementedError: an ``input_choice`` (NNI's SPOS evolves layer choices only).
            ValueError: an entry that is not a ``layer_choice`` with a non-empty ``_value``.
        """
        for key, entry in search_space.items():
            kind = entry.get("_type") if isinstance(entry, dict) else None
            if kind == INPUT_CHOICE:
                raise NotImplementedError(
                    f"SPOSEvolution evolves layer choices only; '{key}' is an input choice"
                )
            if kind != LAYER_CHOICE or not entry.get("_value"):
                raise ValueError(
                    f"search space entry '{key}' must be {{'_type': '{LAYER_CHOICE}', "
                    f"'_value': [candidate names]}}, got {entry!r}"
                )
        self._search_space = search_space
        self._next_round()

    def generate_multiple_parameters(
        self, parameter_id_list: list[int], **kwargs: Any
    ) -> list[Candidate]:
        """Bind queued architectures to these trial ids.

        Under NNI's dispatcher (an ``st_callback`` keyword) the ids are queued, each
        architecture is sent through ``st_callback(parameter_id, parameters)`` as soon as one
        is ready, also later rounds', and the return value is ``[]``, as in NNI. Without it
        (in-process), the architectures ready now are returned, one per id.
        """
        if "st_callback" in kwargs and self._st_callback is None:
            self._st_callback = kwargs["st_callback"]
        if self._st_callback is None:
            return super().generate_multiple_parameters(parameter_id_list)
        self._sending_parameter_queue.extend(parameter_id_list)
        self._bind_and_send_parameters()
        return []

    def generate_parameters(self, parameter_id: int, **kwargs: Any) -> Candidate:
        """The next queued architecture, bound to ``parameter_id``.

        Raises:
            NoMoreTrialError: none is queued: the round waits for its results (report them
                and end the trials), or the search is over.
        """
        if not self._to_evaluate_queue:
            raise NoMoreTrialError(
                f"no architecture to evaluate in epoch {self.epoch}: waiting for "
                f"{len(self._pending_result_ids)} trial(s) to end"
            )
        return self._bind(parameter_id)

    def receive_trial_result(
        self, parameter_id: int, parameters: Any, value: Any, **kwargs: Any
    ) -> None:
        """Record the reward of trial ``parameter_id``: a number, or a dict with ``"default"``
        (what ``report_final_result`` sent)."""
        reward = _scalar_reward(value)
        _logger.info("Candidate %d, reported reward %f", parameter_id, reward)
        self._reward_dict[self._hashcode(self._id2candidate[parameter_id])] = reward

    def trial_end(self, parameter_id: int, success: bool, **kwargs: Any) -> None:
        """Mark the trial done; when the round's last trial ends, start the next round (an
        unreported trial keeps reward 0) and send its architectures to the waiting ids."""
        self._pending_result_ids.remove(parameter_id)
        if not self._pending_result_ids and not self._to_evaluate_queue:
            self._next_round()
            if self._st_callback is not None:
                self._bind_and_send_parameters()

    # --------------------------------------------------------------------------- the rounds

    def _next_round(self) -> None:
        _logger.info("Epoch %d, generating...", self.epoch)
        if self.epoch == 0:
            self._get_random_population()
            self.export_results(self.candidates)
        else:
            best = self._select_top_candidates()
            self.export_results(best)
            if self.epoch >= self.max_epochs:
                return
            self.candidates = self._get_mutation(best) + self._get_crossover(best)
            self._get_random_population()
        self.epoch += 1

    def _random_candidate(self) -> Candidate:
        candidate = {}
        for key, entry in self._search_space.items():
            candidate[key] = self._random_choice(entry["_value"])
        return candidate

    def _random_choice(self, names: list[Any]) -> dict[str, Any]:
        index = self.random_state.randint(len(names))
        return {"_value": names[index], "_idx": index}

    def _get_random_population(self) -> None:
        """Fill :attr:`candidates` with new random architectures up to ``num_population``.

        Gives up after ``100 * num_population`` illegal draws in a row (the space is used up,
        or ``_is_legal`` rejects what is left), where NNI loops forever.
        """
        max_misses = 100 * self.num_population
        misses = 0
        while len(self.candidates) < self.num_population:
            if misses >= max_misses:
                _logger.warning(
                    "Epoch %d has %d of %d architectures: %d random draws in a row were already "
                    "generated or illegal.",
                    self.epoch,
                    len(self.candidates),
                    self.num_population,
                    misses,
                )
                return
            candidate = self._random_candidate()
            if not self._is_legal(candidate):
                misses += 1
                continue
            misses = 0
            self._add_to_evaluate_queue(candidate)
            self.candidates.append(candidate)

    def _get_crossover(self, best: list[Candidate]) -> list[Candidate]:
        result = []
        for _ in range(10 * self.num_crossover):
            first = best[self.random_state.randint(len(best))]
            second = best[self.random_state.randint(len(best))]
            child = {
                key: first[key] if self.random_state.randint(2) == 0 else second[key]
                for key in first
            }
            if self._is_legal(child):
                result.append(child)
                self._add_to_evaluate_queue(child)
            if len(result) >= self.num_crossover:
                break
        _logger.info("Found %d architectures with crossover.", len(result))
        return result

    def _get_mutation(self, best: list[Candidate]) -> list[Candidate]:
        result = []
        for _ in range(10 * self.num_mutation):
            child = dict(best[self.random_state.randint(len(best))])
            coins = np.random.random_sample(len(child))
            for coin, key in zip(coins, list(child), strict=True):
                if coin < self.m_prob:
                    child[key] = self._random_choice(self._search_space[key]["_value"])
            if self._is_legal(child):
                result.append(child)
                self._add_to_evaluate_queue(child)
            if len(result) >= self.num_mutation:
                break
        _logger.info("Found %d architectures with mutation.", len(result))
        return result

    def _is_legal(self, candidate: Candidate) -> bool:
        """Whether ``candidate`` may be evaluated: not generated before (override to add
        constraints, calling this one)."""
        return self._hashcode(candidate) not in self._reward_dict

    def _select_top_candidates(self) -> list[Candidate]:
        rewards = [self._reward_dict[self._hashcode(c)] for c in self.candidates]
        _logger.info("All candidate rewards: %s", rewards)
        order = sorted(range(len(rewards)), key=rewards.__getitem__, reverse=True)
        best = [self.candidates[i] for i in order[: self.num_select]]
        _logger.info("Best candidate rewards: %s", [rewards[i] for i in order[: self.num_select]])
        return best

    def _add_to_evaluate_queue(self, candidate: Candidate) -> None:
        _logger.info("Generate candidate %s, adding to eval queue.", _indices(candidate))
        self._reward_dict[self._hashcode(candidate)] = 0.0
        self._to_evaluate_queue.append(candidate)

    # ---------------------------------------------------------------- binding ids to trials

    def _bind(self, parameter_id: int) -> Candidate:
        candidate = self._to_evaluate_queue.popleft()
        self._id2candidate[parameter_id] = candidate
        self._pending_result_ids.add(parameter_id)
        return candidate

    def _bind_and_send_parameters(self) -> list[Candidate]:
        """Pair waiting trial ids with queued architectures and send each pair."""
        sent = []
        while self._sending_parameter_queue and self._to_evaluate_queue:
            parameter_id = self._sending_parameter_queue.popleft()
            candidate = self._bind(parameter_id)
            self._st_callback(parameter_id, candidate)
            _logger.info("Send parameter [%d] %s.", parameter_id, _indices(candidate))
            sent.append(candidate)
        return sent

    # ------------------------------------------------------------------------------ export

    def export_results(self, result: list[Candidate]) -> None:
        """Write each architecture of ``result`` to ``{checkpoint_dir}/{epoch:03d}_{i:03d}.json``
        as one-hot bool lists (key → ``[False, True, ...]``)."""
        if self.checkpoint_dir is None:
            return
        os.makedirs(self.checkpoint_dir, exist_ok=True)
        for i, candidate in enumerate(result):
            one_hot = {
                key: [k == choice["_idx"] for k in range(len(self._search_space[key]["_value"]))]
                for key, choice in candidate.items()
            }
            name = f"{self.epoch:03d}_{i:03d}.json"
            with open(os.path.join(self.checkpoint_dir, name), "w") as f:
                json.dump(one_hot, f)

    @staticmethod
    def _hashcode(candidate: Candidate) -> str:
        return json.dumps(candidate, sort_keys=True)


def _indices(candidate: Candidate) -> str:
    """A short form of ``candidate`` for the logs: its chosen indices in key order."""
    return "{" + ", ".join(str(candidate[key]["_idx"]) for key in sorted(candidate)) + "}"


def _scalar_reward(value: Any) -> float:
    """A trial's reported value as a number (a dict's ``"default"`` entry, as NNI reads it)."""
    number = value.get("default") if isinstance(value, dict) else value
    if isinstance(number, bool) or not isinstance(number, (int, float, np.number)):
        raise ValueError(f"a trial result must be a number or {{'default': number}}, got {value!r}")
    return float(number)
