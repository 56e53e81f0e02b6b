"""``BaseTrainer``: the four methods every NAS trainer has (NNI v1's ``base_trainer``)."""

from abc import ABC, abstractmethod


class BaseTrainer(ABC):
    """What a search driver calls: train, validate, export the architecture, checkpoint."""

    @abstractmethod
    def train(self) -> None:
        """Run the search."""
        raise NotImplementedError

    @abstractmethod
    def validate(self) -> None:
        """Evaluate the current architecture once."""
        raise NotImplementedError

    @abstractmethod
    def export(self, file: str) -> None:
        """Write the chosen architecture to ``file`` (JSON)."""
        raise NotImplementedError

    @abstractmethod
    def checkpoint(self) -> None:
        """Dump a checkpoint of the search."""
        raise NotImplementedError
