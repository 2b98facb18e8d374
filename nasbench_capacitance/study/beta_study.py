"""Does β_eff add information? Its readings alone, what each feature block costs, its ablation's feature
sets, and β_eff at initialisation without training (the protocol: docs/beta_study.md)."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping

import numpy as np
import torch

from .. import metrics
from ..capacitance.probe import ProbeRecorder
from ..config import StudyConfig
from ..data.cifar10 import TrainingData
from ..evaluation import ablation, ranking
from ..metrics import zero_cost
from ..nb201.model import build_network
from ..store.records import Record
from ..training import probe_features
from .frontier import last_epoch_scores
from .readings import variant_scores

# Beside the default ablation: β_eff at initialisation alone, so that `free+beta − free+beta_init` says
# what the trained part of the trajectory adds.
FEATURE_SETS = ablation.FEATURE_SETS | {"free+beta_init": ("free", "beta_init")}
INCREMENTS = (*ablation.INCREMENTS, ("free+beta_init", "free"), ("free+beta", "free+beta_init"))
# β at init as one more free feature: the model with and without it
INIT_FEATURE_SETS = {"free": ("free",), "free+beta": ("free", "beta"), "beta": ("beta",)}
INIT_INCREMENTS = (("free+beta", "free"),)
PROBE_INPUTS = ("eval", "batch")


def single_scores(ok: list[Record], table: Mapping[str, np.ndarray], truth: np.ndarray) -> list[dict]:
    """τ with a 95% bootstrap interval of every score alone (validation accuracy, each reading of each
    β_eff trajectory, each training-free column of the whole-space table) and τ given parameter count.

    A score with the same value on every cell has no ranking and is left out.
    """
    indices = [r["index"] for r in ok]
    params = table["params"][indices]
    scores = {"val_acc": last_epoch_scores(ok, "val_acc")} | variant_scores(ok)
    scores |= {m: table[m][indices] for m in ablation.free_block(indices, table)[1]}
    rows = []
    for name, values in scores.items():
        finite = np.isfinite(values)
        if len(np.unique(values[finite])) < 2:
            continue
        low, high = ranking.bootstrap_interval(ranking.kendall_tau_rows, values, truth)
        tau = ranking.kendall_tau(values, truth)
        row = {"score": name, "n": int(finite.sum()), "tau": tau, "low": low, "high": high}
        rows.append(row | {"tau_given_params": ranking.partial_kendall_tau(values, truth, params)})
    return rows


def block_costs(ok: list[Record], table: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Mean seconds per cell: zero-cost table (free), training without the probe (curve), the probe (beta)."""
    probe = [r["timings"].get("probe", 0.0) + r["timings"].get("kernel", 0.0) for r in ok]
    return {
        "free": float(np.nanmean(table["time_wall"][[r["index"] for r in ok]])),
        "curve": statistics.mean(r["timings"]["wall"] for r in ok) - statistics.mean(probe),
        "beta": statistics.mean(probe),
    }


def ablation_blocks(ok: list[Record], table: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The feature blocks of a trained study's cells: free (the table), curve, β trajectory, β at init."""
    return {
        "free": ablation.free_block([r["index"] for r in ok], table)[0],
        "curve": ablation.curve_block(ok),
        "beta": ablation.beta_block(ok),
        "beta_init": ablation.beta_init_block(ok),
    }


def beta_at_init(cell: int, cfg: StudyConfig, data: TrainingData) -> dict[str, float]:
    """β_gradient of the initialised network's probe, per probe input: the trainer's epoch-0 snapshot."""
    with torch.random.fork_rng():
        torch.manual_seed(cfg.run.seed)
        net = build_network(
            cell, C=cfg.model.C, N=cfg.model.N, head="probe", probe_widths=tuple(cfg.model.probe_widths)
        )
    if cfg.train.channels_last:
        net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    x, y = data.train.fixed_batch(cfg.train.probe_batch_size, seed=cfg.run.seed)
    out = {}
    for mode in PROBE_INPUTS:
        recorder = ProbeRecorder(net.head, ("gradient",))  # type: ignore[arg-type]
        recorder.snapshot(0.0, 0, probe_features(net, x, mode), y)
        out[mode] = float(recorder.result().beta("gradient").values[0])
    return out


def registered_proxy(cell: int, cfg: StudyConfig, data: TrainingData) -> float:
    """The ``beta_init`` zero-cost proxy as ``nbcap space`` scores it: the proxies' network and batch."""
    setup = zero_cost.make_setup(
        cell, data.train, C=cfg.model.C, N=cfg.model.N, batch_size=cfg.proxies.batch_size, seed=cfg.run.seed
    )
    return metrics.score(["beta_init"], None, setup.network.arch, setup)["beta_init"]["0"]  # type: ignore[arg-type]


def seed_means(per_seed: list[list[ablation.AblationRow]]) -> list[ablation.AblationRow]:
    """One row per (model, size, features): τ mean and sd over the seeds, the seeds' interval bounds averaged."""
    out = []
    for rows in zip(*per_seed):
        taus = [r.tau for r in rows]
        sd = statistics.stdev(taus) if len(taus) > 1 else float("nan")
        low, high = statistics.mean(r.low for r in rows), statistics.mean(r.high for r in rows)
        out.append(dataclasses.replace(rows[0], tau=statistics.mean(taus), sd=sd, low=low, high=high))
    return out
