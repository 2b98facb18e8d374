"""Few-epoch training of one network with NB201's recipe; returns curves, probe records and timings.

The trainer knows nothing of metrics: it records per-epoch train loss (the sample-weighted mean of
the epoch's minibatch losses, as NB201 stores it), validation loss/accuracy and probe snapshots,
and hands them on. Recipe defaults are NB201's (``200E.config``): SGD, Nesterov momentum 0.9,
lr 0.1 with cosine decay to 0 updated every iteration over the whole budget, weight decay 5e-4,
batch 256.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from .capacitance import kernel
from .capacitance.probe import CapacitanceProbe, ProbeRecorder, ProbeSchedule, ProbeSnapshots
from .data.cifar10 import TrainingData
from .schema import Section, at_least, each_of, fraction, key, one_of, positive

PHASES = ("data", "compute", "eval", "probe")
PROBE_INPUTS = ("eval", "batch")
PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig(Section):
    """The trainer's settings: the ``train`` section of a study's configuration, or built directly."""

    NAME: ClassVar[str] = "train"
    epochs: int = key(3, at_least(0), meaning="0: zero-cost proxies only, no training")
    batch_size: int = key(256, at_least(1))
    lr: float = key(0.1, positive)
    momentum: float = key(0.9, fraction)
    nesterov: bool = key(True)
    weight_decay: float = key(5e-4, at_least(0))
    eval_batch_size: int = key(1024, at_least(1))
    probe_batch_size: int = key(256, at_least(1))
    strategies: tuple[str, ...] = key(("weight", "gradient"), each_of(kernel.STRATEGIES))
    snapshot_every_steps: int | None = key(
        None, at_least(1), unset=0, meaning="0: snapshots only at initialisation and epoch ends"
    )
    channels_last: bool = key(False)
    probe_input: str = key(
        "batch", one_of(PROBE_INPUTS), meaning="BatchNorm statistics of the probe batch's features: its own or eval"
    )
    precision: str = key("fp32", one_of(PRECISIONS), meaning="bf16: the training passes under bfloat16 autocast")


@dataclass
class TrainResult:
    status: str  # "ok" or "diverged"
    reason: str | None
    epochs_completed: int
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)
    valid_acc: list[float] = field(default_factory=list)
    probe: ProbeSnapshots | None = None
    timings: dict[str, float] = field(default_factory=dict)
    diverged_epoch: int | None = None


class _PhaseClock:
    """Accumulates wall time per phase; optionally synchronises CUDA so asynchronous work is attributed."""

    def __init__(self, device: torch.device, sync: bool):
        self.sync = sync and device.type == "cuda"
        self.device = device
        self.totals: dict[str, float] = defaultdict(float)
        self._phase: str | None = None
        self._since = 0.0

    def switch(self, phase: str | None) -> None:
        if self.sync:
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        if self._phase is not None:
            self.totals[self._phase] += now - self._since
        self._phase, self._since = phase, now


def cosine_lr(base: float, step: int, total_steps: int) -> float:
    """NB201's cosine schedule without warm-up, from ``base`` to 0 over ``total_steps`` iterations."""
    return 0.5 * base * (1.0 + math.cos(math.pi * step / total_steps))


@torch.no_grad()
def validate(model: nn.Module, images, batch_size: int) -> tuple[float, float]:
    """(mean loss, accuracy in percent) over a device-resident split, in eval mode."""
    model.eval()
    loss_sum = torch.zeros((), device=images.device, dtype=torch.float64)
    correct = torch.zeros((), device=images.device, dtype=torch.int64)
    for x, y in images.batches(batch_size):
        logits = model(x)
        loss_sum += F.cross_entropy(logits, y, reduction="sum").double()
        correct += (logits.argmax(1) == y).sum()
    n = len(images)
    return float(loss_sum) / n, 100.0 * float(correct) / n


def probe_features(model: nn.Module, x: torch.Tensor, mode: str) -> torch.Tensor:
    """The features the probe reads for the fixed probe batch, leaving the model as it was.

    ``eval``: BatchNorm normalises with its running statistics (at initialisation mean 0, variance 1,
    so the features carry the activations' raw scale). ``batch``: with the probe batch's own
    statistics, as in training; the running statistics are restored, so a snapshot never moves them.
    """
    was_training = model.training
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [{k: v.clone() for k, v in m.state_dict().items()} for m in norms] if mode == "batch" else []
    model.train(mode == "batch")
    try:
        with torch.no_grad():
            return getattr(model, "features")(x)  # noqa: B009  (any network with features())
    finally:
        for m, state in zip(norms, saved):
            m.load_state_dict(state)
        model.train(was_training)


class _Snapshots:
    """Snapshots of the model's capacitance-probe head, if it has one, on the fixed probe batch
    (features as :func:`probe_features` computes them; snapshots never change BatchNorm statistics)."""

    def __init__(self, model: nn.Module, data: TrainingData, config: TrainConfig, seed: int, clock: _PhaseClock):
        head = getattr(model, "head", None)
        self.model, self.clock = model, clock
        self.recorder = None
        if isinstance(head, CapacitanceProbe):
            schedule = ProbeSchedule(every_steps=config.snapshot_every_steps)
            self.recorder = ProbeRecorder(head, config.strategies, schedule)
            self.x, self.y = data.train.fixed_batch(config.probe_batch_size, seed=seed)
            self.probe_input = config.probe_input

    def take(self, epoch: float, step: int) -> None:
        if self.recorder is None:
            return
        self.clock.switch("probe")
        features = probe_features(self.model, self.x, self.probe_input) if self.recorder.needs_batch else None
        self.recorder.snapshot(epoch, step, features, self.y)

    def due_mid_epoch(self, step: int, steps_per_epoch: int) -> bool:
        return (
            self.recorder is not None and self.recorder.schedule.due_after_step(step) and bool(step % steps_per_epoch)
        )

    def result(self) -> ProbeSnapshots | None:
        return self.recorder.result() if self.recorder is not None else None


@dataclass
class _Optimisation:
    """The optimiser and the schedule's position, carried from epoch to epoch."""

    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    steps_per_epoch: int
    total_steps: int
    step: int = 0


def _train_epoch(
    model: nn.Module, data: TrainingData, config: TrainConfig, opt: _Optimisation, clock: _PhaseClock, snaps: _Snapshots
) -> tuple[float, float]:
    """One epoch of SGD with the per-iteration cosine schedule: (mean train loss, train accuracy %)."""
    model.train()
    device = data.train.device
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    batches = data.train.batches(config.batch_size, opt.generator, shuffle=True, augment=True)
    while True:
        clock.switch("data")
        batch = next(batches, None)
        if batch is None:
            break
        x, y = batch
        clock.switch("compute")
        for group in opt.optimizer.param_groups:
            group["lr"] = cosine_lr(config.lr, opt.step, opt.total_steps)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16"):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        opt.optimizer.step()
        opt.step += 1
        loss_sum += loss.detach().double() * len(y)
        correct += (logits.detach().argmax(1) == y).sum()
        if snaps.due_mid_epoch(opt.step, opt.steps_per_epoch):
            snaps.take(opt.step / opt.steps_per_epoch, opt.step)
    clock.switch("compute")
    return float(loss_sum) / len(data.train), 100.0 * float(correct) / len(data.train)


def train(
    model: nn.Module, data: TrainingData, config: TrainConfig, seed: int = 0, sync_timing: bool = False
) -> TrainResult:
    """Train ``model`` (already on the data's device) for ``config.epochs`` epochs (at least one).

    ``seed`` fixes the batch order, the augmentations and the probe batch. A non-finite epoch train
    loss stops training with status ``diverged``; the curves up to that epoch are kept. If the head is
    a :class:`CapacitanceProbe`, snapshots are taken at initialisation, after every epoch and every
    ``snapshot_every_steps`` steps. ``sync_timing`` synchronises the GPU at phase boundaries, so
    phase times are exact (slower).
    """
    if config.epochs < 1:
        raise ValueError(f"training needs at least one epoch, got train.epochs = {config.epochs}")
    device = data.train.device
    clock = _PhaseClock(device, sync_timing)
    started = time.perf_counter()
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay,
    )
    steps_per_epoch = math.ceil(len(data.train) / config.batch_size)
    generator = torch.Generator(device=device).manual_seed(seed)
    opt = _Optimisation(optimizer, generator, steps_per_epoch, steps_per_epoch * config.epochs)
    snaps = _Snapshots(model, data, config, seed, clock)
    result = TrainResult(status="ok", reason=None, epochs_completed=0)
    snaps.take(0.0, 0)
    for epoch in range(1, config.epochs + 1):
        train_loss, train_acc = _train_epoch(model, data, config, opt, clock, snaps)
        if not math.isfinite(train_loss):
            result.status, result.diverged_epoch = "diverged", epoch
            result.reason = f"non-finite training loss in epoch {epoch}"
            break
        result.train_loss.append(train_loss)
        result.train_acc.append(train_acc)
        clock.switch("eval")
        valid_loss, valid_acc = validate(model, data.valid, config.eval_batch_size)
        result.valid_loss.append(valid_loss)
        result.valid_acc.append(valid_acc)
        result.epochs_completed = epoch
        snaps.take(float(epoch), opt.step)
    clock.switch(None)
    result.probe = snaps.result()
    result.timings = {phase: clock.totals.get(phase, 0.0) for phase in PHASES}
    result.timings["total"] = time.perf_counter() - started
    return result
