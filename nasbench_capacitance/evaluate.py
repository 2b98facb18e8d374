"""Evaluate one architecture: build, train with the probe, score with every metric; one plain record.

Everything else (runner, store, CLI, a NAS search using this as a proxy) is built around
:func:`evaluate_architecture`. A failure inside (out of memory, a bug exposed by an odd cell) becomes
a record with status ``failed`` and its reason, so a study carries on.
"""

from __future__ import annotations

import platform
import time
import traceback

import torch

from . import __version__, metrics
from .data import TrainingData, prepare
from .model import build_network
from .space import Arch
from .training import TrainConfig, train


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} asked for, but torch {torch.__version__} sees no CUDA GPU: use run.device=cpu")
    return device


def train_config(cfg: dict) -> TrainConfig:
    t = cfg["train"]
    return TrainConfig(
        epochs=t["epochs"], batch_size=t["batch_size"], lr=t["lr"], momentum=t["momentum"], nesterov=t["nesterov"],
        weight_decay=t["weight_decay"], eval_batch_size=t["eval_batch_size"], seed=cfg["run"]["seed"],
        probe_batch_size=t["probe_batch_size"], strategies=tuple(t["strategies"]),
        snapshot_every_steps=t["snapshot_every_steps"] or None, channels_last=t["channels_last"],
    )


def prepare_data(cfg: dict, device: torch.device) -> TrainingData:
    d = cfg["data"]
    return prepare(d["split"], device=device, resolution=d["resolution"], train_subset=d["train_images"] or None,
                   valid_subset=d["valid_images"] or None, subset_seed=cfg["run"]["seed"], source=d["source"] or None,
                   data_root=d["data_root"] or None, channels_last=cfg["train"]["channels_last"])


def metric_names(cfg: dict) -> list[str]:
    """The metrics one training run yields under ``cfg``: β_eff per recorded strategy, curves, costs."""
    names = [f"beta_{s}" for s in cfg["train"]["strategies"]]
    return names + [m.name for m in metrics.REGISTRY.values() if not m.name.startswith("beta_")]


def provenance(cfg: dict, device: torch.device) -> dict:
    return {"package": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.machine()})",
            "seed": cfg["run"]["seed"]}


def evaluate_architecture(arch: "Arch | str | int", cfg: dict, data: TrainingData | None = None) -> dict:
    """Train and score one architecture under ``cfg`` (see :mod:`nasbench_capacitance.config`).

    Returns ``{index, arch_str, status, reason, metrics: {name: {epoch: score}}, timings, extra}``;
    scores are higher-is-better. ``data`` may be shared across calls (it is read-only).
    """
    arch = Arch.parse(arch)
    start = time.perf_counter()
    record = {"index": arch.index, "arch_str": arch.to_string(), "status": "failed", "reason": None,
              "metrics": {}, "timings": {}, "extra": {}}
    try:
        device = resolve_device(cfg["run"]["device"]) if data is None else data.train.device
        data = data if data is not None else prepare_data(cfg, device)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(cfg["run"]["seed"])
            net = build_network(arch, C=cfg["model"]["C"], N=cfg["model"]["N"], head="probe",
                                probe_widths=tuple(cfg["model"]["probe_widths"])).to(device)
            result = train(net, data, train_config(cfg))
        kernel_start = time.perf_counter()
        record["metrics"] = metrics.compute(metric_names(cfg), result, arch)
        record["timings"] = {**result.timings, "kernel": time.perf_counter() - kernel_start}
        record["status"], record["reason"] = result.status, result.reason
        record["extra"] = {"valid_acc": result.valid_acc, "train_loss": result.train_loss, "epochs_completed": result.epochs_completed,
                           "beta_reasons": {s: sorted({r for r in result.probe.beta(s).reasons if r})
                                            for s in cfg["train"]["strategies"]} if result.probe else {}}
    except torch.OutOfMemoryError as exc:
        record["reason"] = f"out of memory: {str(exc).splitlines()[0]} (reduce train.batch_size or model.C)"
    except Exception as exc:  # a failing architecture is recorded and the study goes on
        record["reason"] = f"{type(exc).__name__}: {exc}"
        record["extra"]["traceback"] = traceback.format_exc(limit=5)
    record["timings"]["wall"] = time.perf_counter() - start
    return record
