"""The ``nbcap`` command: run a study, rebuild its report, score one architecture, inspect the data."""

from __future__ import annotations

import argparse
import math
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from . import __version__, config, paths


def _config_args(p: argparse.ArgumentParser, default_help: str) -> None:
    p.add_argument(
        "--preset", choices=config.PRESETS, metavar="PRESET", help=f"{default_help}; one of {', '.join(config.PRESETS)}"
    )
    p.add_argument("--config", metavar="FILE", help="a TOML file (same sections as the presets)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one key, e.g. --set train.epochs=4 (repeatable)",
    )


def _plugin_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--plugin",
        dest="plugins",
        action="append",
        default=[],
        metavar="FILE.py|MODULE",
        help="load metrics of your own from a Python file or module (repeatable; also NBCAP_PLUGINS)",
    )


def _execution_args(p: argparse.ArgumentParser, items: str) -> None:
    p.add_argument("--workers", type=_positive, help=f"evaluate {items} in N processes")
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help=f"evaluate {items} on Ray: local (start one here), auto (the running cluster) or ray://host:port; "
        "CPUs/GPUs per task: --set run.ray_cpus=... run.ray_gpus=...",
    )


def _report_args(p: argparse.ArgumentParser, flag: str, dest: str, help: str) -> None:
    """``--no-figures`` and the repeatable ``KEY=VALUE`` option that sets the report's settings."""
    p.add_argument("--no-figures", action="store_true")
    p.add_argument(flag, dest=dest, action="append", default=[], metavar="KEY=VALUE", help=help)


def _check_out(out: str, kind: str) -> None:
    """``--out`` must be a writable folder (made if missing) whose store, if any, opens and belongs to a job of
    ``kind`` (``study``, ``space``, ``search``); checked before any work."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise config.ConfigError(f"--out {out} is a file; give a folder for the study (it is made if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise config.ConfigError(f"cannot create --out {out} ({exc.strerror}); choose a writable folder") from None
    from .search.study import SearchStore
    from .store.results import DB_NAME, SEARCH_DB, ResultStore, check_folder

    for db, opener in ((path / SEARCH_DB, SearchStore), (path / DB_NAME, ResultStore)):
        if db.exists():
            with opener(db):  # a damaged or foreign store is named now, before any work
                pass
    check_folder(path, kind, "choose another --out")


def _check_data(cfg: config.StudyConfig) -> None:
    """CIFAR-10 must be findable before a study's store is created (no store left behind by a refusal)."""
    from .data import cifar10

    if cfg.data.source is None:
        cifar10.find_source(cfg.data.data_root)
    elif not Path(cfg.data.source).exists():
        raise config.ConfigError(f"data.source {cfg.data.source} not found; give an existing CIFAR-10 source")


def _at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"must be a whole number, at least {low}; got {text!r}")
        return value

    return parse


_positive = _at_least(1)


def _load(args: argparse.Namespace) -> config.StudyConfig:
    from .study.evaluate import metric_names

    cfg = config.load(args.preset, args.config, args.overrides)
    metric_names(cfg)  # proxies.names checked against the registry before any work
    if getattr(args, "workers", None):
        cfg = cfg.updated({"run": {"workers": args.workers}}, "--workers")
    if getattr(args, "ray", None):
        cfg = cfg.updated({"run": {"ray": args.ray}}, "--ray")
    return cfg


def cmd_run(args: argparse.Namespace) -> int:
    from .store.results import check_study
    from .study.evaluate import study_identity
    from .study.report import ground_truth_for, write_report
    from .study.run import run_study

    cfg = _load(args)
    ground_truth_for(cfg)  # a wrong table or target is refused now, not after the whole sample has trained
    _check_data(cfg)
    _check_out(args.out, "study")
    check_study(args.out, study_identity(cfg), args.new_run, "add --new-run")
    print(
        f"nbcap run: {cfg.sample.archs if not cfg.sample.indices else len(cfg.sample.indices)} "
        f"architectures, C={cfg.model.C} N={cfg.model.N} {cfg.data.resolution}px, "
        f"{cfg.train.epochs} epochs, target {cfg.ground_truth.target} -> {args.out}",
        file=sys.stderr,
    )
    run_study(cfg, args.out, new_run=args.new_run)  # stores the run's report settings with the study
    write_report(args.out)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .store.results import folder_kind
    from .study.report import write_report

    folder = Path(args.dir)
    if folder.is_file():
        raise config.ConfigError(
            f"nbcap report takes a study's folder (the --out of nbcap run or space), not a file: {folder}"
        )
    kind = folder_kind(folder) if folder.is_dir() else None
    if kind == "search":
        raise config.ConfigError(
            f"{folder} is a search (nbcap search): its report is {folder}/summary.md and summary.csv; the same "
            "nbcap search command rebuilds them (finished seeds are not run again)"
        )
    if kind == "space":
        return _space_report(args.dir, args.overrides, not args.no_figures)
    write_report(args.dir, figures=not args.no_figures, overrides=args.overrides, run_id=args.run)
    return 0


def _space_report(out: str, overrides: list[str], figures: bool) -> int:
    from .whole_space.report import DEFAULT_BOOTSTRAP, write_space_report

    table, resamples = None, DEFAULT_BOOTSTRAP
    for text in overrides:
        key, _, value = (part.strip() for part in text.partition("="))
        if key == "ground_truth.table":
            table = value
        elif key == "evaluation.bootstrap" and value.isdigit():
            resamples = int(value)
        else:
            raise config.ConfigError(
                f"--set {text}: a whole-space report takes ground_truth.table=FILE or evaluation.bootstrap=N (N >= 0)"
            )
    write_space_report(out, table=table, resamples=resamples, figures=figures)
    return 0


def cmd_space(args: argparse.Namespace) -> int:
    from . import metrics
    from .whole_space.scoring import parse_indices, parse_sample, score_space, training_free_metrics

    cfg = _load(args)
    names = training_free_metrics(args.metrics.split(",") if args.metrics else None)
    indices = parse_sample(args.sample) if args.sample else parse_indices(args.indices)
    chosen = f"{len(indices)} cells ({f'--sample {args.sample}' if args.sample else args.indices or 'every one'})"
    if any(metrics.get(n).needs.network for n in names):
        _check_data(cfg)
    _check_out(args.out, "space")
    print(
        f"nbcap space: {chosen}, {len(names)} metrics, "
        f"C={cfg.model.C} N={cfg.model.N} {cfg.data.resolution}px, proxies' batch "
        f"{cfg.proxies.batch_size}{', copies within isomorphism classes' if args.iso_copy else ''} -> {args.out}",
        file=sys.stderr,
    )
    score_space(cfg, args.out, names, indices, iso_copy=args.iso_copy)
    return _space_report(args.out, args.report_overrides, not args.no_figures)


def cmd_score(args: argparse.Namespace) -> int:
    from . import metrics
    from .nb201 import space
    from .outputs import to_json
    from .study.evaluate import check_producible, evaluate_architecture

    cfg = _load(args)
    if args.epochs is not None:
        cfg = cfg.updated({"train": {"epochs": args.epochs}}, "--epochs")
    names = [n.strip() for n in args.metrics.split(",") if n.strip()] if args.metrics else None
    if names:
        names = metrics.check_names(names)
        wanted = [s for s in (metrics.get(n).needs.strategy for n in names) if s is not None]
        strategies = list(dict.fromkeys([*cfg.train.strategies, *wanted]))
        cfg = cfg.updated({"train": {"strategies": strategies}}, "--metrics")
        check_producible(names, cfg)
    record = evaluate_architecture(space.Arch.parse(args.arch), cfg, names=names)
    printed = {k: v for k, v in record.as_dict().items() if k != "extra"}
    if record.extra.get("proxy_errors"):
        printed["errors"] = record.extra["proxy_errors"]
    print(to_json(printed, indent=None if args.json else 1))
    return 0 if record.status == "ok" else 1


def _names(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _search_params(texts: list[str]) -> dict[str, list]:
    """``--param cells=10,100`` -> ``{"cells": [10, 100]}`` (numbers where they parse)."""
    params: dict[str, list] = {}
    for text in texts:
        key, sep, values = (part.strip() for part in text.partition("="))
        if not sep or not key or not values:
            raise config.ConfigError(f"--param {text}: expected NAME=VALUE[,VALUE...], e.g. --param cells=10,100")
        params[key] = [_number(v) for v in _names(values)]
    return params


def _number(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _budgets(text: str) -> list[float]:
    """Positive, finite budgets, each once and in order (the summary has one row per budget)."""
    try:
        budgets = sorted({float(b) for b in _names(text)})
    except ValueError:
        budgets = []
    if not budgets or min(budgets) <= 0 or not all(math.isfinite(b) for b in budgets):
        raise config.ConfigError(
            f"--budget {text}: give positive, finite simulated seconds (evaluations off CIFAR-10), "
            "e.g. --budget 1000,3000,12000"
        )
    return budgets


def _scores_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scores",
        action="append",
        default=[],
        metavar="FILE",
        help="scores computed elsewhere as metrics: a CSV (index or arch_str, then one column per score) or "
        "NASLib's zero-cost JSON (repeatable)",
    )
    p.add_argument("--scores-prefix", default="", metavar="PREFIX", help="import the columns as PREFIX+column")
    p.add_argument(
        "--sign", dest="signs", action="append", default=[], metavar="NAME=-1", help="a lower-is-better column"
    )


def _pairs(texts: list[str], option: str, kind: type, example: str) -> dict:
    """``NAME=VALUE`` options as a dict; a malformed one names the form."""
    out = {}
    for text in texts:
        name, sep, value = (part.strip() for part in text.partition("="))
        try:
            out[name] = kind(value)
        except ValueError:
            sep = ""
        if not sep or not name:
            raise config.ConfigError(f"{option} {text}: expected NAME=VALUE, e.g. {option} {example}")
    return out


def _import_scores(args: argparse.Namespace) -> list:
    """The --scores files, read and registered as metrics before any work."""
    from .metrics import imported

    signs = _pairs(args.signs, "--sign", int, "my_loss=-1")
    files = [imported.read_scores(path, args.scores_prefix, signs) for path in args.scores]
    for scores in files:
        imported.register(scores)
    if signs and not files:
        raise config.ConfigError("--sign applies to the columns of --scores FILE: give the file")
    return files


def cmd_compare(args: argparse.Namespace) -> int:
    from .comparison.run import compare

    files = _import_scores(args)
    cfg = _load(args)
    costs = _pairs(args.costs, "--cost", float, "naslib_nwot=0.05")
    _check_out_folder(args.out)
    compare(
        _names(args.metrics),
        cfg,
        args.out,
        cells=args.cells,
        whole_space=args.whole_space,
        imported=files,
        costs=costs,
        seeds=args.seeds,
        baselines=args.baselines,
    )
    return 0


def _check_out_folder(out: str) -> None:
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise config.ConfigError(f"--out {out} is a file; give a folder (it is made if missing)")


def cmd_search(args: argparse.Namespace) -> int:
    from .search.experiment import plan_search

    if _import_scores(args):
        print("imported scores are charged 0 s per cell on the search's clock", file=sys.stderr)
    cfg = (
        config.load(args.preset, args.config, args.overrides) if args.preset or args.config or args.overrides else None
    )
    if args.pool and cfg is not None:
        raise config.ConfigError("--pool scores with the pool study's own configuration: drop --preset/--config/--set")
    plan = plan_search(
        _names(args.algorithm),
        _names(args.proxy),
        _budgets(args.budget),
        args.seeds,
        dataset=args.dataset,
        params=_search_params(args.params),
        config=cfg,
        pool=args.pool,
        table=args.table,
        first_seed=args.first_seed,
    )
    _check_out(args.out, "search")
    plan.run(args.out)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .predict.run import predict

    _check_out_folder(args.out)
    predict(
        args.calibration,
        args.out,
        target=args.target,
        model=args.model,
        blocks=tuple(_names(args.blocks)) if args.blocks else None,
        table=args.table,
        seed=args.seed,
    )
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from .data import cifar10

    root, cache = paths.data_root(args.data_root), paths.cache_root()
    print(f"data root  {root}  (set {paths.DATA_ENV} or --data-root)")
    print(f"cache      {cache}  (set {paths.CACHE_ENV})")
    print("CIFAR-10 sources, in the order they are tried:")
    usable = []
    for p in cifar10.candidate_sources(root):
        problem = cifar10.source_problem(p) if cifar10._looks_usable(p) else "not found"
        print(f"  [{' ' if problem else 'x'}] {p}" + (f"  ({problem})" if problem and problem != "not found" else ""))
        usable += [] if problem else [p]
    if usable:
        cache_file, state = cifar10.cache_state(usable[0])
        print(f"cache of {usable[0].name}: {cache_file}: {state}")
    table = paths.ground_truth_table(root)
    print(f"NB201 ground truth:\n  [{'x' if table.is_file() else ' '}] {table}")
    if args.download:
        from .data.download import download_cifar10

        if usable and args.url == paths.CIFAR10_URL:
            print(f"CIFAR-10 already present: {usable[0]} (nothing downloaded)")
        else:
            path = download_cifar10(args.url, args.checksum, root)
            print(f"CIFAR-10 archive ready (checksum verified): {path}")
    if args.prepare or args.download:
        cifar = cifar10.load_cifar10(data_root=root)
        print(f"CIFAR-10 cache ready: {len(cifar.train_x)} train + {len(cifar.test_x)} test images from {cifar.source}")
        return 0
    missing = ([] if usable else ["a usable CIFAR-10 source (nbcap data --download)"]) + (
        [] if table.is_file() else [f"the NB201 table (set {paths.DATA_ENV} to a folder holding nb201/)"]
    )
    if missing:
        print(f"nbcap data: missing {' and '.join(missing)}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nbcap", description="Neural capacitance (β_eff) on NAS-Bench-201.")
    parser.add_argument("--version", action="version", version=f"nbcap {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="train and score a sample of NB201, compare with the benchmark")
    _config_args(p, f"a packaged configuration (default {config.DEFAULT_PRESET} unless --config is given)")
    _plugin_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="study directory; the same DIR resumes")
    p.add_argument(
        "--new-run",
        action="store_true",
        help="add this study to a DIR that holds a study of another configuration (default: refused)",
    )
    _execution_args(p, "architectures")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("space", help="score every NB201 cell (or a range) with training-free metrics; resumable")
    _config_args(p, f"network and data setting (default {config.DEFAULT_PRESET})")
    _plugin_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="scoring directory; the same DIR resumes")
    p.add_argument("--metrics", help="comma-separated training-free metrics (default: every arch and init metric)")
    cells = p.add_mutually_exclusive_group()
    cells.add_argument("--indices", metavar="START:STOP", help="official indices START..STOP-1 (default 0:15625)")
    cells.add_argument(
        "--sample",
        metavar="N[:SEED]",
        help="a uniform random sample of N cells (seed default 0); a smaller N with the same seed is its prefix",
    )
    p.add_argument(
        "--iso-copy",
        action="store_true",
        help="score one cell per isomorphism class for the metrics "
        "that depend only on the computed function, copy them to the class's other cells",
    )
    _execution_args(p, "cells")
    _report_args(
        p, "--report-set", "report_overrides", "ground_truth.table=FILE or evaluation.bootstrap=N for the report"
    )
    p.set_defaults(func=cmd_space)
    p = sub.add_parser("report", help="rebuild tables and figures from a study directory")
    p.add_argument("dir")
    p.add_argument(
        "--run", type=_positive, metavar="ID", help="the study to report when DIR holds several (default: the latest)"
    )
    _report_args(
        p,
        "--set",
        "overrides",
        "evaluate differently, e.g. --set ground_truth.target=c10_test_200 (ground_truth.*, evaluation.*)",
    )
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("score", help="train and score one architecture; print its record as JSON")
    p.add_argument("arch", help="NB201 index or architecture string")
    p.add_argument("--metrics", help="comma-separated metric names (default: all the run yields)")
    p.add_argument("--epochs", type=int, help="training epochs (0: costs and zero-cost proxies only, no training)")
    _plugin_args(p)
    p.add_argument("--json", action="store_true", help="one JSON object on one line")
    _config_args(p, "configuration for training (default quick)")
    p.set_defaults(func=cmd_score)
    p = sub.add_parser("search", help="NAS with a proxy on NB201's simulated clock (NATS-Bench protocol); resumable")
    p.add_argument("--algorithm", required=True, help="comma-separated: random, rea, warmup, moves, proxy, predictor")
    p.add_argument("--proxy", help="comma-separated metrics guiding warmup/moves/proxy/predictor (e.g. nwot)")
    p.add_argument(
        "--budget",
        required=True,
        help="comma-separated simulated budgets: seconds on cifar10, evaluations on cifar100 and ImageNet16-120",
    )
    p.add_argument("--seeds", type=_positive, default=100, help="searches per setting (default 100)")
    p.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds FIRST..FIRST+N-1 (default 0); report on seeds no choice was made on",
    )
    p.add_argument("--dataset", default="cifar10", help="cifar10 (default), cifar100 or ImageNet16-120")
    p.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="NAME=V[,V]",
        help="an algorithm parameter, e.g. cells=10,100 or warmup=3000 (a list runs each; repeatable)",
    )
    p.add_argument("--pool", metavar="DIR", help="search only the cells a study (nbcap run) scored; random/proxy")
    p.add_argument("--table", metavar="FILE", help="NB201 table with 12-epoch signals and costs (default: found)")
    _config_args(p, "how the proxy is scored when it is not read from the whole-space table (default quick)")
    _scores_args(p)
    _plugin_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="search directory; the same DIR resumes")
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("compare", help="any training-free metric beside every baseline, and inside a search")
    p.add_argument("metrics", help="comma-separated metrics to compare (built-in, from --plugin or --scores)")
    p.add_argument("--cells", type=_positive, help="a seeded uniform sample of N cells (default 1000)")
    p.add_argument("--whole-space", action="store_true", help="every NB201 cell instead of a sample")
    p.add_argument(
        "--cost", dest="costs", action="append", default=[], metavar="NAME=SECONDS",
        help="the seconds per cell an imported score is charged in the searches (default: the file's, else 0)",
    )  # fmt: skip
    p.add_argument("--seeds", type=_positive, default=100, help="searches per setting (default 100)")
    p.add_argument(
        "--baselines", default="auto", metavar="auto|all|table|NAMES",
        help="those the shipped table holds for these cells, none scored here (auto, the default, where a table "
        "fits the preset; every built-in elsewhere), every built-in training-free metric (all), or a list",
    )  # fmt: skip
    _scores_args(p)
    _plugin_args(p)
    _config_args(p, "the setting the baselines and any metric computed here use (default quick)")
    _execution_args(p, "cells")
    p.add_argument("--out", required=True, metavar="DIR", help="comparison directory; the same DIR resumes")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("predict", help="the few-shot predictor: fit on N cells with accuracy, rank all the others")
    p.add_argument(
        "--calibration", required=True, metavar="FILE|N",
        help="a CSV of trained cells (index or arch_str, and an accuracy column), or N random cells with their "
        "NB201 --target accuracy",
    )  # fmt: skip
    p.add_argument("--target", default="c10valid_xvalid_200_v10", help="the NB201 column N random cells are fitted on")
    p.add_argument("--model", default="forest", help="forest (default), boosting, gp or ranking")
    p.add_argument("--blocks", help="feature blocks (default all): graph, proxies_2021, proxies_recent, beta_init")
    p.add_argument("--table", metavar="FILE", help="a space.csv of nbcap space (default: the shipped quick table)")
    p.add_argument("--seed", type=_at_least(0), default=0, help="draws the N cells and seeds the model (default 0)")
    p.add_argument("--out", required=True, metavar="DIR", help="where ranked.csv, scores.csv, summary.json go")
    p.set_defaults(func=cmd_predict)
    p = sub.add_parser("data", help="where datasets and ground truth are looked for; --prepare builds the cache")
    p.add_argument("--data-root", help=f"instead of ${'NBCAP_DATA'}")
    p.add_argument("--prepare", action="store_true", help="decode CIFAR-10 into the uint8 cache now")
    p.add_argument("--download", action="store_true", help="fetch CIFAR-10 (official archive, checksum verified)")
    p.add_argument(
        "--url", default=paths.CIFAR10_URL, help="where --download fetches from (default: the official archive)"
    )
    p.add_argument("--checksum", default=paths.CIFAR10_CHECKSUM, metavar="ALGO:HEX", help="what --download checks")
    p.set_defaults(func=cmd_data)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM: ends a run as Ctrl-C does (finished work is kept), with the conventional exit status 143."""


def _terminate(_signum: int, _frame: object) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        from .metrics import plugins

        plugins.load_all(getattr(args, "plugins", []))
        return args.func(args)
    except KeyboardInterrupt as exc:
        print(
            f"\nnbcap {args.command}: interrupted; finished work is saved, run the same command to resume",
            file=sys.stderr,
        )
        return 143 if isinstance(exc, Terminated) else 130
    except (config.ConfigError, FileNotFoundError, LookupError, PermissionError, RuntimeError, ValueError) as exc:
        frames = getattr(exc, "user_traceback", "")  # a plug-in's own code raised: where, in its own frames
        if frames:
            print(f"Traceback of the plug-in (most recent call last):\n{frames}", file=sys.stderr, end="")
        print(f"nbcap {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
