"""Evaluate one architecture: costs, zero-cost proxies, training with the probe, every metric; one Record.

Everything else (runner, store, CLI, a NAS search using this as a proxy) is built around
:func:`evaluate_architecture`. A failure inside (out of memory, a bug exposed by an odd cell) becomes
a record with status ``failed`` and its reason, so a study carries on.
"""

from __future__ import annotations

import math
import platform
import time
import traceback

import torch

from .. import __version__, metrics
from ..config import ConfigError, StudyConfig
from ..data.cifar10 import TrainingData, prepare
from ..metrics import plugins, zero_cost
from ..nb201.model import build_network
from ..nb201.space import Arch
from ..store import identity
from ..store.records import Record
from ..training import train


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {name!r} asked for, but torch {torch.__version__} sees no CUDA GPU: use run.device=cpu"
        )
    return device


def prepare_data(cfg: StudyConfig, device: torch.device | str | None = None) -> TrainingData:
    """The configuration's data on ``device`` (default: ``run.device``), to share across evaluations."""
    d = cfg.data
    return prepare(
        d.split,
        device=resolve_device(str(device) if device is not None else cfg.run.device),
        resolution=d.resolution,
        train_subset=d.train_images,
        valid_subset=d.valid_images,
        subset_seed=cfg.run.seed,
        source=d.source,
        data_root=d.data_root,
        channels_last=cfg.train.channels_last,
    )


def proxy_names(cfg: StudyConfig) -> list[str]:
    """The zero-cost proxies the configuration asks for (``proxies.names``; ``"all"`` means every one).

    Checked against the registry here, not in the configuration: a plug-in may register more proxies.
    """
    wanted, proxies = cfg.proxies.names, metrics.available("init")
    unknown = [n for n in wanted if n != "all" and n not in proxies]
    if unknown:
        raise ConfigError(f'proxies.names: unknown {unknown}; use ["all"], [] or names from {", ".join(proxies)}')
    return proxies if "all" in wanted else list(dict.fromkeys(wanted))


def metric_names(cfg: StudyConfig) -> list[str]:
    """The per-architecture metrics one evaluation under ``cfg`` yields: costs, proxies, then the run's curves."""
    names = metrics.available("arch") + proxy_names(cfg)
    if cfg.train.epochs > 0:
        curves = [metrics.get(n) for n in metrics.available("curve")]
        names += [m.name for s in cfg.train.strategies for m in curves if m.needs.strategy == s]
        names += [m.name for m in curves if m.needs.strategy is None]
    return names


def study_identity(cfg: StudyConfig) -> dict:
    """The identity of a study under ``cfg``: its configuration and the plug-ins among its metrics."""
    return identity.study(cfg, plugins.identity(metric_names(cfg)))


def check_producible(names: list[str], cfg: StudyConfig) -> None:
    """A clear error for metrics this configuration cannot produce for one architecture."""
    for name in names:
        metric = metrics.get(name)
        if metric.kind == "calibrated":
            raise ValueError(
                f"{name} is fitted on a calibration set of architectures: run a study (nbcap run) and read its report"
            )
        if metric.kind == "curve" and cfg.train.epochs == 0:
            raise ValueError(
                f"{name} needs training: set train.epochs >= 1 (or --epochs) or choose training-free metrics"
            )
        strategy = metric.needs.strategy
        if strategy is not None and strategy not in cfg.train.strategies:
            raise ValueError(f"{name} needs train.strategies to include {strategy!r}")


def provenance(cfg: StudyConfig, device: torch.device) -> dict:
    """Versions, device and seed of a run, and every plug-in loaded (its file, content hash and metrics)."""
    out = {
        "package": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.machine()})",
        "seed": cfg.run.seed,
    }
    return out | ({"plugins": plugins.provenance()} if plugins.loaded() else {})


def evaluate_architecture(
    arch: Arch | str | int, cfg: StudyConfig, data: TrainingData | None = None, names: list[str] | None = None
) -> Record:
    """Score one architecture under ``cfg`` (see :mod:`nasbench_capacitance.config`): its Record.

    Zero-cost proxies run on the initialised network (linear head) first, then the network with the
    capacitance probe trains for ``train.epochs`` and every curve metric reads the run. ``names``
    restricts the metrics (default: all the configuration yields). Returns ``{index, arch_str, status,
    reason, metrics: {name: {epoch: score}}, timings, extra}``; scores are higher-is-better. ``data``
    may be shared across calls (it is read-only).
    """
    arch = Arch.parse(arch)
    names = metric_names(cfg) if names is None else list(names)
    check_producible(names, cfg)
    start = time.perf_counter()
    record = Record(arch.index, arch.to_string())
    kinds = {n: metrics.get(n).kind for n in names}
    try:
        device = resolve_device(cfg.run.device) if data is None else data.train.device
        record["extra"]["device"] = str(device)
        record["extra"]["threads"] = torch.get_num_threads()  # float sums, and so the last digits, depend on it
        if data is None and any(k in ("init", "curve") for k in kinds.values()):
            data = prepare_data(cfg, device)
        record["metrics"] = metrics.score([n for n in names if kinds[n] == "arch"], None, arch)
        _score_proxies(arch, cfg, data, [n for n in names if kinds[n] == "init"], record)
        record["status"] = "ok"
        curve_names = [n for n in names if kinds[n] == "curve"]
        if curve_names and data is not None:
            _train_and_score(arch, cfg, data, curve_names, record)
    except torch.OutOfMemoryError as exc:
        record["status"] = "failed"
        record["reason"] = f"out of memory: {str(exc).splitlines()[0]} (reduce train.batch_size or model.C)"
    except Exception as exc:  # a failing architecture is recorded and the study goes on
        record["status"] = "failed"
        record["reason"] = f"{type(exc).__name__}: {exc}"
        record["extra"]["traceback"] = traceback.format_exc(limit=5)
    record["timings"]["wall"] = time.perf_counter() - start
    return record


def _score_proxies(arch: Arch, cfg: StudyConfig, data: TrainingData | None, names: list[str], record: Record) -> None:
    """Zero-cost proxies on one shared initialisation and batch; a failing proxy is NaN with its reason."""
    if not names:
        return
    if data is None:
        raise ValueError("zero-cost proxies need the prepared data (architecture.prepare_data)")
    setup = zero_cost.make_setup(
        arch,
        data.train,
        C=cfg.model.C,
        N=cfg.model.N,
        batch_size=cfg.proxies.batch_size,
        seed=cfg.run.seed,
    )
    setup.compute(names)
    for name in names:
        try:
            record["metrics"].update(metrics.score([name], None, arch, setup))
        except Exception as exc:  # one proxy failing (e.g. a singular matrix) does not lose the others
            record["metrics"][name] = {"0": math.nan}
            record["extra"].setdefault("proxy_errors", {})[name] = f"{type(exc).__name__}: {exc}"
    record["timings"].update({f"zc_{name}": seconds for name, seconds in setup.timings.items()})
    if setup.undefined:
        record["extra"]["proxy_undefined"] = dict(setup.undefined)


def _train_and_score(arch: Arch, cfg: StudyConfig, data: TrainingData, names: list[str], record: Record) -> None:
    device = data.train.device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(cfg.run.seed)
        net = build_network(
            arch,
            C=cfg.model.C,
            N=cfg.model.N,
            head="probe",
            probe_widths=tuple(cfg.model.probe_widths),
        ).to(device)
        result = train(net, data, cfg.train, seed=cfg.run.seed)
    kernel_start = time.perf_counter()
    record["metrics"].update(metrics.score(names, result, arch))
    record["timings"].update({**result.timings, "kernel": time.perf_counter() - kernel_start})
    record["status"], record["reason"] = result.status, result.reason
    record["extra"].update(
        {
            "valid_acc": result.valid_acc,
            "train_loss": result.train_loss,
            "epochs_completed": result.epochs_completed,
            "beta_reasons": {s: sorted({r for r in result.probe.beta(s).reasons if r}) for s in cfg.train.strategies}
            if result.probe
            else {},
        }
    )
