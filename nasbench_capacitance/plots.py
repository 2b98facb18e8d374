"""The study's figures (matplotlib, PNG): β_eff vs accuracy, τ vs epoch budget, β_eff trajectories."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402



def _beta_metrics(records: list[dict]) -> list[str]:
    return sorted({m for r in records for m in r["metrics"] if m.startswith("beta_")})


def beta_vs_accuracy(path: Path, records: list[dict], truth: np.ndarray, target: str) -> None:
    names = _beta_metrics(records)
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(4.5 * max(1, len(names)), 4), squeeze=False)
    for ax, name in zip(axes[0], names):
        last = [max(r["metrics"].get(name, {"nan": 0}), key=lambda e: float(e) if e != "nan" else -1) for r in records]
        values = np.array([r["metrics"].get(name, {}).get(e, math.nan) for r, e in zip(records, last)], dtype=float)
        ax.scatter(truth, values, s=18, alpha=0.8)
        ax.set_xlabel(f"ground-truth accuracy (%)\n{target}", fontsize=8)
        ax.set_ylabel(f"{name} at the last epoch")
        ax.set_title(name.replace("beta_", "β_eff, strategy "), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def tau_vs_epoch(path: Path, rows: list[dict]) -> None:
    fig, ax = plt.subplots(figsize=(8, 5))
    by_metric: dict[str, list[dict]] = {}
    for r in rows:
        if r["subset"] == "all":
            by_metric.setdefault(r["metric"], []).append(r)
    for name, rs in sorted(by_metric.items()):
        rs = sorted(rs, key=lambda r: float(r["epoch"]))
        x = np.array([float(r["epoch"]) for r in rs])
        y = np.array([r["kendall_tau"] for r in rs], dtype=float)
        low = np.array([r["kendall_low"] for r in rs], dtype=float)
        high = np.array([r["kendall_high"] for r in rs], dtype=float)
        style = "-o" if len(x) > 1 else "s"
        line = ax.plot(x, y, style, label=name, markersize=4)[0]
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.12) if len(x) > 1 else \
            ax.errorbar(x, y, yerr=[y - low, high - y], fmt="none", color=line.get_color())
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("training budget (epochs)")
    ax.set_ylabel("Kendall τ with ground truth (95% CI)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def beta_trajectories(path: Path, records: list[dict], truth: np.ndarray) -> None:
    names = _beta_metrics(records)
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(4.5 * max(1, len(names)) + 1, 4), squeeze=False)
    finite = truth[np.isfinite(truth)]
    norm = plt.Normalize(*(finite.min(), finite.max()) if len(finite) else (0, 100))
    cmap = plt.get_cmap("viridis")
    for ax, name in zip(axes[0], names):
        for r, acc in zip(records, truth):
            series = sorted((float(e), v) for e, v in r["metrics"].get(name, {}).items())
            if series and math.isfinite(acc):
                ax.plot(*zip(*series), color=cmap(norm(acc)), alpha=0.7, lw=1)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes[0].tolist(), label="ground-truth accuracy (%)")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def write_all(out: Path, records: list[dict], truth: np.ndarray, rows: list[dict], target: str) -> list[Path]:
    paths = [out / "beta_vs_accuracy.png", out / "tau_vs_epoch.png", out / "beta_trajectories.png"]
    beta_vs_accuracy(paths[0], records, truth, target)
    tau_vs_epoch(paths[1], rows)
    beta_trajectories(paths[2], records, truth)
    return paths
