"""``EnasMutator``: an LSTM controller samples the architecture by walking the search-space tree.

ENAS (Pham et al., "Efficient Neural Architecture Search via Parameter Sharing", ICML 2018)
decides every choice in turn with one recurrent controller: a LayerChoice is a softmax over its
candidates, an InputChoice attends over the hidden states ("anchors") recorded for the keys it
chooses from. The log-probability, entropy and skip penalty of each sample stay on the
controller's graph for the REINFORCE step of :class:`~nasops.algorithms.enas.EnasTrainer`.
"""

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasops._tree import StructuredMutableTreeNode
from nasops.mutables import InputChoice, LayerChoice, MutableScope
from nasops.mutator import Mutator

ENTROPY_REDUCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sum": torch.sum,
    "mean": torch.mean,
}


class StackedLSTMCell(nn.Module):
    """``layers`` LSTM cells of width ``size`` fed one into the next, for a batch of one.

    State dict names are NNI's: ``lstm_modules.<i>.weight_ih`` / ``weight_hh`` (and the biases
    when ``bias``).
    """

    def __init__(self, layers: int, size: int, bias: bool) -> None:
        super().__init__()
        self.lstm_num_layers = layers
        self.lstm_modules = nn.ModuleList(nn.LSTMCell(size, size, bias=bias) for _ in range(layers))

    def forward(
        self, inputs: torch.Tensor, hidden: tuple[list[torch.Tensor], list[torch.Tensor]]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """One step from ``(h, c)`` (one ``[1, size]`` tensor per layer); returns the new pair."""
        prev_h, prev_c = hidden
        next_h, next_c = [], []
        for layer, cell in enumerate(self.lstm_modules):
            h, c = cell(inputs, (prev_h[layer], prev_c[layer]))
            next_h.append(h)
            next_c.append(c)
            inputs = h
        return next_h, next_c


class EnasMutator(Mutator):
    """ENAS' controller, with NNI v2.8's arguments, sampling rules and state_dict keys.

    Args:
        model: the network with mutables. Every LayerChoice must have the same number of
            candidates; every InputChoice must choose one input (``n_chosen=1``) or any number
            (``n_chosen=None``).
        lstm_size: hidden units of the controller LSTM.
        lstm_num_layers: stacked LSTM layers.
        tanh_constant: logits become ``tanh_constant * tanh(logits)``; ``None`` skips this.
        cell_exit_extra_step: take one more LSTM step when the walk leaves a MutableScope, so a
            scope's anchor is a hidden state of its own (as in the ENAS paper's code).
        skip_target: the probability of a skip connection that the skip penalty aims at.
        temperature: logits are divided by it; ``None`` leaves them.
        branch_bias: fixed logit bias for LayerChoices whose key contains "reduce":
            ``+branch_bias`` for candidates whose type name contains "conv", ``-branch_bias``
            for the others (the ENAS code's hand-set preference, matched as NNI matches it).
        entropy_reduction: "sum" or "mean": how the per-input log-probabilities and entropies
            of an ``n_chosen=None`` InputChoice are reduced to one number.

    Each ``reset()`` walks the search-space tree in pre-order (see :meth:`sample_search`) and
    leaves, for the trainer, ``sample_log_prob`` (the summed negative log-likelihood of the
    samples, on the controller's graph), ``sample_entropy`` (detached) and
    ``sample_skip_penalty`` (the KL divergence of the skip probabilities from
    ``[1 - skip_target, skip_target]``, on the graph). The masks are bool. ``sample_final()``
    draws a new sample, as NNI's does.
    """

    def __init__(
        self,
        model: nn.Module,
        lstm_size: int = 64,
        lstm_num_layers: int = 1,
        tanh_constant: float | None = 1.5,
        cell_exit_extra_step: bool = False,
        skip_target: float = 0.4,
        temperature: float | None = None,
        branch_bias: float = 0.25,
        entropy_reduction: str = "sum",
    ) -> None:
        super().__init__(model)
        self.lstm_size = lstm_size
        self.lstm_num_layers = lstm_num_layers
        self.tanh_constant = tanh_constant
        self.temperature = temperature
        self.cell_exit_extra_step = cell_exit_extra_step
        self.skip_target = skip_target
        self.branch_bias = branch_bias

        self.lstm = StackedLSTMCell(lstm_num_layers, lstm_size, False)
        self.attn_anchor = nn.Linear(lstm_size, lstm_size, bias=False)
        self.attn_query = nn.Linear(lstm_size, lstm_size, bias=False)
        self.v_attn = nn.Linear(lstm_size, 1, bias=False)
        self.g_emb = nn.Parameter(torch.randn(1, lstm_size) * 0.1)
        self.skip_targets = nn.Parameter(
            torch.tensor([1.0 - skip_target, skip_target]), requires_grad=False
        )
        assert entropy_reduction in ENTROPY_REDUCTIONS, (
            "Entropy reduction must be one of sum and mean."
        )
        self.entropy_reduction = ENTROPY_REDUCTIONS[entropy_reduction]
        self.cross_entropy_loss = nn.CrossEntropyLoss(reduction="none")
        self.bias_dict = nn.ParameterDict()

        self.max_layer_choice = 0
        for mutable in self.mutables:
            if isinstance(mutable, LayerChoice):
                if self.max_layer_choice == 0:
                    self.max_layer_choice = len(mutable)
                assert self.max_layer_choice == len(mutable), (
                    "ENAS mutator requires all layer choice have the same number of candidates."
                )
                if "reduce" in mutable.key:
                    self.bias_dict[mutable.key] = nn.Parameter(
                        self._reduction_bias(mutable), requires_grad=False
                    )

        self.embedding = nn.Embedding(self.max_layer_choice + 1, lstm_size)
        self.soft = nn.Linear(lstm_size, self.max_layer_choice, bias=False)
        self._initialize()

    def _reduction_bias(self, mutable: LayerChoice) -> torch.Tensor:
        def is_conv(candidate: nn.Module) -> bool:
            return "conv" in str(type(candidate)).lower()

        return torch.tensor(
            [self.branch_bias if is_conv(op) else -self.branch_bias for op in mutable]
        )

    def sample_search(self) -> dict[str, torch.Tensor]:
        """A fresh sample of every choice: key → bool mask.

        The walk is pre-order over the tree, one LSTM step per LayerChoice (its input is the
        embedding of the previous LayerChoice's pick, or of an InputChoice's picks) and one per
        InputChoice source key that has no anchor yet; leaving a MutableScope records the
        current hidden state as that key's anchor (after one more step with
        ``cell_exit_extra_step``). A key already decided is not sampled again.
        """
        self._initialize()
        self._sample(self.mutables)
        return self._choices

    def sample_final(self) -> dict[str, torch.Tensor]:
        """A new sample, like :meth:`sample_search` (NNI's behaviour)."""
        return self.sample_search()

    def _initialize(self) -> None:
        self._choices: dict[str, torch.Tensor] = {}
        self._anchors_hid: dict[str, torch.Tensor] = {}
        # NNI feeds g_emb detached (``.data``): the first input is a fixed random vector.
        self._inputs = self.g_emb.data
        zeros = self._inputs.new_zeros((1, self.lstm_size))
        self._c = [zeros for _ in range(self.lstm_num_layers)]
        self._h = [zeros for _ in range(self.lstm_num_layers)]
        self.sample_log_prob: Any = 0
        self.sample_entropy: Any = 0
        self.sample_skip_penalty: Any = 0

    def _sample(self, tree: StructuredMutableTreeNode) -> None:
        mutable = tree.mutable
        if isinstance(mutable, LayerChoice) and mutable.key not in self._choices:
            self._choices[mutable.key] = self._sample_layer_choice(mutable)
        elif isinstance(mutable, InputChoice) and mutable.key not in self._choices:
            self._choices[mutable.key] = self._sample_input_choice(mutable)
        for child in tree.children:
            self._sample(child)
        if isinstance(mutable, MutableScope) and mutable.key not in self._anchors_hid:
            if self.cell_exit_extra_step:
                self._lstm_next_step()
            self._mark_anchor(mutable.key)

    def _lstm_next_step(self) -> None:
        self._h, self._c = self.lstm(self._inputs, (self._h, self._c))

    def _mark_anchor(self, key: str) -> None:
        self._anchors_hid[key] = self._h[-1]

    def _squash(self, logit: torch.Tensor) -> torch.Tensor:
        if self.temperature is not None:
            logit = logit / self.temperature
        if self.tanh_constant is not None:
            logit = self.tanh_constant * torch.tanh(logit)
        return logit

    def _account(self, log_prob: torch.Tensor) -> None:
        """Add one decision's negative log-likelihood and (detached) entropy to the totals."""
        self.sample_log_prob = self.sample_log_prob + self.entropy_reduction(log_prob)
        entropy = (log_prob * torch.exp(-log_prob)).detach()
        self.sample_entropy = self.sample_entropy + self.entropy_reduction(entropy)

    def _sample_layer_choice(self, mutable: LayerChoice) -> torch.Tensor:
        self._lstm_next_step()
        logit = self._squash(self.soft(self._h[-1]))
        if mutable.key in self.bias_dict:
            logit = logit + self.bias_dict[mutable.key]
        branch_id = torch.multinomial(F.softmax(logit, dim=-1), 1).view(-1)
        self._account(self.cross_entropy_loss(logit, branch_id))
        self._inputs = self.embedding(branch_id)
        return F.one_hot(branch_id, num_classes=self.max_layer_choice).bool().view(-1)

    def _sample_input_choice(self, mutable: InputChoice) -> torch.Tensor:
        queries, anchors = [], []
        for label in mutable.choose_from:
            if label not in self._anchors_hid:
                # A source with no anchor yet (NO_KEY, or a LayerChoice key) gets one step.
                self._lstm_next_step()
                self._mark_anchor(label)
            queries.append(self.attn_anchor(self._anchors_hid[label]))
            anchors.append(self._anchors_hid[label])
        query = torch.tanh(torch.cat(queries, 0) + self.attn_query(self._h[-1]))
        query = self._squash(self.v_attn(query))

        if mutable.n_chosen is None:
            logit = torch.cat([-query, query], 1)
            skip = torch.multinomial(F.softmax(logit, dim=-1), 1).view(-1)
            skip_prob = torch.sigmoid(logit)
            kl = torch.sum(skip_prob * torch.log(skip_prob / self.skip_targets))
            self.sample_skip_penalty = self.sample_skip_penalty + kl
            log_prob = self.cross_entropy_loss(logit, skip)
            chosen = torch.matmul(skip.to(query.dtype), torch.cat(anchors, 0))
            self._inputs = (chosen / (1.0 + torch.sum(skip))).unsqueeze(0)
        else:
            assert mutable.n_chosen == 1, "Input choice must select exactly one or any in ENAS."
            logit = query.view(1, -1)
            index = torch.multinomial(F.softmax(logit, dim=-1), 1).view(-1)
            skip = F.one_hot(index, num_classes=mutable.n_candidates).view(-1)
            log_prob = self.cross_entropy_loss(logit, index)
            self._inputs = anchors[index.item()]
        self._account(log_prob)
        return skip.bool()
