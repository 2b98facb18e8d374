"""The study's figures (matplotlib, PNG): β_eff vs accuracy, τ vs epoch budget, β_eff trajectories."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .metrics import REGISTRY, capacitance_metrics  # noqa: E402
from .store.records import Record


def _beta_metrics(records: list[Record]) -> list[str]:
    return capacitance_metrics({m for r in records for m in r["metrics"]})


def _beta_title(name: str) -> str:
    return f"β_eff, strategy {REGISTRY[name].needs.strategy}"


def beta_vs_accuracy(path: Path, records: list[Record], truth: np.ndarray, target: str) -> None:
    names = _beta_metrics(records)
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(4.5 * max(1, len(names)), 4), squeeze=False)
    for ax, name in zip(axes[0], names):
        last = [max(r["metrics"].get(name, {"nan": 0}), key=lambda e: float(e) if e != "nan" else -1) for r in records]
        values = np.array([r["metrics"].get(name, {}).get(e, math.nan) for r, e in zip(records, last)], dtype=float)
        ax.scatter(truth, values, s=18, alpha=0.8)
        ax.set_xlabel(f"ground-truth accuracy (%)\n{target}", fontsize=8)
        ax.set_ylabel(f"{name} at the last epoch")
        ax.set_title(_beta_title(name), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _by_metric(rows: list[dict], kinds: tuple[str, ...]) -> dict[str, list[dict]]:
    """Rows over all architectures, grouped by metric (only the given kinds), each sorted by budget."""
    grouped: dict[str, list[dict]] = {}
    for r in rows:
        if r["subset"] == "all" and r.get("kind") in kinds:
            grouped.setdefault(r["metric"], []).append(r)
    return {m: sorted(rs, key=lambda r: float(r["epoch"])) for m, rs in sorted(grouped.items())}


def _series(rs: list[dict], key: str) -> np.ndarray:
    return np.array([r[key] for r in rs], dtype=float)


def tau_vs_epoch(path: Path, rows: list[dict], reference: str = "val_acc") -> None:
    """One small panel per metric with a training budget: τ and its 95% interval against the budget."""
    groups = _by_metric(rows, ("curve", "calibrated"))
    if not groups:
        groups = {"(no trained metrics)": []}
    cols = min(4, len(groups))
    nrows = math.ceil(len(groups) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.6 * nrows), sharex=True, sharey=True, squeeze=False)
    ref = groups.get(reference, [])
    for ax, (name, rs) in zip(axes.flat, groups.items()):
        if ref and name != reference:
            ax.plot(
                [float(r["epoch"]) for r in ref],
                _series(ref, "kendall_tau"),
                "--",
                color="grey",
                lw=1,
                label=f"{reference} (for reference)",
            )
        if rs:
            x = np.array([float(r["epoch"]) for r in rs])
            ax.fill_between(x, _series(rs, "kendall_low"), _series(rs, "kendall_high"), color="C0", alpha=0.2)
            ax.plot(x, _series(rs, "kendall_tau"), "-o", color="C0", markersize=3)
        calibrated = max((r.get("calibration", 0) for r in rs), default=0)
        ax.set_title(name + (f" (held out; fitted on {calibrated})" if calibrated else ""), fontsize=9)
        ax.axhline(0, color="black", lw=0.6)
        ax.tick_params(labelsize=8)
    for ax in axes.flat[len(groups) :]:
        ax.axis("off")
    for n, ax in enumerate(axes.flat[: len(groups)]):
        if n + cols >= len(groups):  # the lowest panel of its column: label the shared x axis here
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel("training budget (epochs)", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("Kendall τ (95% CI)", fontsize=8)
    if ref:
        fig.legend(*axes.flat[0 if len(groups) == 1 else 1].get_legend_handles_labels(), loc="upper right", fontsize=8)
    fig.suptitle("Rank correlation with ground truth against training budget", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def tau_training_free(path: Path, rows: list[dict]) -> None:
    """Bars of τ with 95% intervals for the metrics that need no training (zero-cost proxies, costs)."""
    groups = _by_metric(rows, ("init", "arch"))
    items = sorted(
        ((rs[-1], name) for name, rs in groups.items()), key=lambda t: np.nan_to_num(t[0]["kendall_tau"], nan=-2)
    )
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * max(len(items), 3) + 1.2))
    for y, (r, _name) in enumerate(items):
        tau = r["kendall_tau"]
        color = "C1" if r["kind"] == "arch" else "C2"
        ax.barh(y, 0 if math.isnan(tau) else tau, color=color, alpha=0.8)
        if not math.isnan(r["kendall_low"]):
            ax.plot([r["kendall_low"], r["kendall_high"]], [y, y], color="black", lw=1)
    ax.set_yticks(range(len(items)), [name for _, name in items], fontsize=8)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel("Kendall τ with ground truth (95% CI)")
    ax.set_title("Training-free metrics (green: zero-cost proxies at initialisation, orange: cost)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def beta_trajectories(path: Path, records: list[Record], truth: np.ndarray) -> None:
    """β_eff against epoch, one line per architecture coloured by its ground-truth accuracy (log scale:
    β_eff spans orders of magnitude across cells at initialisation)."""
    names = _beta_metrics(records)
    fig, axes = plt.subplots(
        1, max(1, len(names)), figsize=(4.8 * max(1, len(names)) + 1, 4), squeeze=False, layout="constrained"
    )
    finite = truth[np.isfinite(truth)]
    norm = plt.Normalize(*(finite.min(), finite.max()) if len(finite) else (0, 100))
    cmap = plt.get_cmap("viridis")
    for ax, name in zip(axes[0], names):
        positive = True
        for r, acc in zip(records, truth):
            series = sorted((float(e), v) for e, v in r["metrics"].get(name, {}).items() if math.isfinite(v))
            if series and math.isfinite(acc):
                positive &= all(v > 0 for _, v in series)
                ax.plot(*zip(*series), color=cmap(norm(acc)), alpha=0.7, lw=1)
        if positive:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(_beta_title(name), fontsize=10)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes[0].tolist(), label="ground-truth accuracy (%)")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_all(out: Path, records: list[Record], truth: np.ndarray, rows: list[dict], target: str) -> list[Path]:
    paths = [
        out / "beta_vs_accuracy.png",
        out / "tau_vs_epoch.png",
        out / "tau_training_free.png",
        out / "beta_trajectories.png",
    ]
    beta_vs_accuracy(paths[0], records, truth, target)
    tau_vs_epoch(paths[1], rows)
    tau_training_free(paths[2], rows)
    beta_trajectories(paths[3], records, truth)
    return paths


# ----------------------------------------------------------------------------- the whole space (thousands of cells)


def space_hexbin(path: Path, columns: dict[str, np.ndarray], truth: np.ndarray, target: str, note: str) -> None:
    """Density of every metric against accuracy, one panel each (15,625 points would hide each other)."""
    names = list(columns)
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.7 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        x = columns[name]
        keep = np.isfinite(x) & np.isfinite(truth) & (x > -1e7)  # -1e8 marks an undefined proxy value
        if keep.sum() > 1:
            ax.hexbin(x[keep], truth[keep], gridsize=40, bins="log", cmap="viridis", mincnt=1)
        ax.set_title(f"{name} ({int((~keep).sum())} undefined)" if (~keep).sum() else name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy (%)", fontsize=8)
    fig.suptitle(f"Metric (x) against {target} (y), log cell count per hexagon\n{note}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def space_tau_heatmap(path: Path, correlations: list[dict], note: str) -> None:
    """Kendall τ over all cells, metrics (rows, best first) by targets (columns)."""
    rows = [r for r in correlations if r["subset"] == "all"]
    targets = list(dict.fromkeys(r["target"] for r in rows))
    tau = {(r["metric"], r["target"]): r["kendall_tau"] for r in rows}
    names = sorted(dict.fromkeys(r["metric"] for r in rows), key=lambda m: -np.nan_to_num(tau[(m, targets[0])], nan=-2))
    grid = np.array([[tau[(m, t)] for t in targets] for m in names], dtype=float)
    fig, ax = plt.subplots(figsize=(1.6 * len(targets) + 2.5, 0.38 * len(names) + 1.6))
    image = ax.imshow(grid, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    for (i, j), v in np.ndenumerate(grid):
        ax.text(j, i, "nan" if math.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(targets)), targets, rotation=20, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    fig.colorbar(image, ax=ax, label="Kendall τ")
    ax.set_title(f"Kendall τ over all cells\n{note}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def space_top_k(path: Path, columns: dict[str, np.ndarray], truth: np.ndarray, target: str) -> None:
    """Mean true accuracy of the k best cells by each metric, k on a log axis; oracle and random drawn."""
    from .evaluation.ranking import expected_top_k

    finite = np.isfinite(truth)
    y = truth[finite]
    ks = np.unique(np.round(np.logspace(0, math.log10(len(y)), 40)).astype(int))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(ks, [expected_top_k(y, y, k) for k in ks], color="black", lw=2, label="oracle")
    ax.axhline(float(y.mean()), color="grey", ls="--", lw=1, label="random")
    curves = {
        name: [expected_top_k(np.nan_to_num(s[finite], nan=-np.inf), y, k) for k in ks] for name, s in columns.items()
    }
    for n, (name, curve) in enumerate(sorted(curves.items(), key=lambda kv: -kv[1][min(10, len(kv[1]) - 1)])):
        ax.plot(ks, curve, lw=1.2, color=plt.get_cmap("tab20")(n % 20), label=name)
    ax.set_xscale("log")
    ax.set_xlabel("k (cells taken, best first by the metric)")
    ax.set_ylabel(f"mean accuracy of the top k (%)\n{target}", fontsize=8)
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    ax.set_title("What a search trusting each metric gets", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_space(
    out: Path, columns: dict[str, np.ndarray], truth: dict[str, np.ndarray], correlations: list[dict], note: str
) -> list[Path]:
    """The whole-space figures, against the first target (CIFAR-10 validation when the table has it)."""
    target = next(iter(truth))
    paths = [out / "space_hexbin.png", out / "space_tau_heatmap.png", out / "space_topk.png"]
    space_hexbin(paths[0], columns, truth[target], target, note)
    space_tau_heatmap(paths[1], correlations, note)
    space_top_k(paths[2], columns, truth[target], target)
    return paths


def search_curves(
    path: Path, curves: dict[str, tuple[np.ndarray, np.ndarray]], optimum: float, title: str, unit: str
) -> None:
    """Test accuracy of the returned cell against the simulated clock: mean over seeds, 95% CI band."""
    fig, (ax, regret) = plt.subplots(1, 2, figsize=(12, 4.5))
    for label, (grid, values) in curves.items():
        started = np.isfinite(values).mean(axis=0) >= 0.5  # drawn where most seeds have returned a cell
        if not started.any():
            continue
        kept = values[:, started]
        n = np.isfinite(kept).sum(axis=0)  # at least one seed at every drawn point
        mean = np.nanmean(kept, axis=0)
        deviations = np.where(np.isfinite(kept), kept - mean, 0.0)
        spread = np.where(n > 1, np.sqrt((deviations**2).sum(axis=0) / np.maximum(n - 1, 1)), np.nan)
        half = 1.96 * spread / np.sqrt(n)  # no band where one seed returned a cell (nothing to estimate it from)
        x = grid[started]
        (line,) = ax.plot(x, mean, label=label, lw=1.4)
        low, high = np.clip(mean - half, 0, 100), np.clip(mean + half, 0, 100)
        ax.fill_between(x, low, high, where=np.isfinite(half), color=line.get_color(), alpha=0.2, lw=0)
        regret.plot(x, optimum - mean, color=line.get_color(), lw=1.4)
    ax.axhline(optimum, color="k", ls="--", lw=1, label=f"optimum {optimum:.2f}")
    ax.set_ylabel("test accuracy of the returned cell (%)")
    regret.set_ylabel("regret to the optimum (points)")
    regret.set_yscale("log")
    for a in (ax, regret):
        a.set_xscale("log")
        a.set_xlabel(f"simulated clock ({'seconds' if unit == 's' else 'evaluations'})")
        a.grid(alpha=0.3, which="both")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def ablation_curves(path: Path, rows: list, target: str) -> None:
    """Top: τ of each feature set; bottom: Δτ of each β_eff increment; one column per model, 95% bands."""
    models = sorted({r.model for r in rows})
    names = list(dict.fromkeys(r.features for r in rows))
    panels = [[n for n in names if "−" not in n], [n for n in names if "−" in n]]
    fig, axes = plt.subplots(2, len(models), figsize=(5.5 * len(models), 7), sharex=True, sharey="row", squeeze=False)
    sizes = sorted({r.calibration for r in rows})
    for column, model in enumerate(models):
        for row_axes, chosen in zip(axes, panels):
            ax = row_axes[column]
            for name in chosen:
                line = sorted((r for r in rows if r.model == model and r.features == name), key=lambda r: r.calibration)
                x = [r.calibration for r in line]
                ax.plot(x, [r.tau for r in line], marker="o", label=name)
                ax.fill_between(x, [r.low for r in line], [r.high for r in line], alpha=0.15)
            ax.axhline(0, color="grey", lw=0.8)
            ax.set_xscale("log")
            ax.set_xticks(sizes, [str(s) for s in sizes])
            ax.grid(alpha=0.3)
        axes[0][column].set_title(f"{model}: held-out cells, 95% paired bootstrap", fontsize=9)
        axes[1][column].set_xlabel("calibration cells")
    axes[0][0].set_ylabel(f"Kendall τ vs {target}")
    axes[1][0].set_ylabel("Δτ from adding β_eff")
    for ax in axes[:, -1]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def fidelity_frontier(path: Path, rows: list[dict], front: list[dict], target: str) -> None:
    """τ of validation accuracy (seed mean, 95% cell interval) against seconds per cell, the frontier stepped."""
    points: dict[tuple, list[dict]] = {}  # protocols that train alike (they differ only in the probe) share a point
    for row in rows:
        points.setdefault((row["tau_val_acc"], row["cells"], row["runs"]), []).append(row)
    fig, ax = plt.subplots(figsize=(8.5, 5))
    by_cost = sorted(points.values(), key=lambda same: same[0]["seconds_per_cell"])
    for rank, same in enumerate(by_cost):
        row = same[0]
        tau = row["tau_val_acc"]
        ax.errorbar(
            row["seconds_per_cell"], tau, yerr=[[tau - row["low_val_acc"]], [row["high_val_acc"] - tau]], fmt="o"
        )
        right = rank % 2 == 0  # neighbours in cost label on opposite sides, so close points stay legible
        ax.annotate(
            " = ".join(r["protocol"] for r in same) + f" ({row['runs']}×{row['cells']})",
            (row["seconds_per_cell"], tau),
            fontsize=7,
            xytext=(5 if right else -5, 3),
            textcoords="offset points",
            ha="left" if right else "right",
        )
    most_seconds = by_cost[-1][0]["seconds_per_cell"]  # the best so far holds up to the costliest protocol
    ax.step(
        [r["seconds_per_cell"] for r in front] + [most_seconds],
        [r["tau_val_acc"] for r in front] + [front[-1]["tau_val_acc"]],
        where="post",
        color="grey",
        alpha=0.6,
        label="frontier: best τ at no more seconds",
    )
    ax.legend(loc="upper left", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("CPU seconds per cell (1 thread)")
    ax.set_ylabel(f"Kendall τ of validation accuracy vs {target}")
    ax.set_title("fidelity frontier: seed-mean τ, 95% interval over the cells (seeds×cells)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def tau_bars(path: Path, rows: list[dict], target: str, highlight: list[str]) -> None:
    """Kendall τ of every metric with its 95% interval on one target, the compared metrics highlighted."""
    mine = sorted(
        (r for r in rows if r["target"] == target and r["subset"] == "all"),
        key=lambda r: np.nan_to_num(r["kendall_tau"], nan=-2),
    )
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(mine) + 1.2))
    y = np.arange(len(mine))
    taus = np.array([r["kendall_tau"] for r in mine], dtype=float)
    # a percentile interval need not hold its point estimate (ties, few cells): draw no negative arm
    low = np.nan_to_num(np.clip(taus - np.array([r["kendall_low"] for r in mine], dtype=float), 0, None))
    high = np.nan_to_num(np.clip(np.array([r["kendall_high"] for r in mine], dtype=float) - taus, 0, None))
    colours = ["tab:red" if r["metric"] in highlight else "tab:blue" for r in mine]
    ax.barh(y, taus, xerr=[low, high], color=colours, alpha=0.8, capsize=2)
    ax.set_yticks(y, [r["metric"] for r in mine], fontsize=8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel(f"Kendall τ vs {target} (95% bootstrap interval)")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
