"""The ``nbcap`` command. The main-job subcommands (run, report, score, data) arrive with the next issue."""

from __future__ import annotations

import argparse
import sys

from . import __version__

PLANNED = {
    "run": "train and score a sample of NB201 and compare with the benchmark",
    "report": "rebuild the tables and figures of a study directory",
    "score": "train and score one architecture (the proxy use)",
    "data": "show where datasets and ground truth are looked for, and prepare the CIFAR-10 cache",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nbcap", description="Neural capacitance (β_eff) on NAS-Bench-201.")
    parser.add_argument("--version", action="version", version=f"nbcap {__version__}")
    sub = parser.add_subparsers(dest="command")
    for name, text in PLANNED.items():
        sub.add_parser(name, help=f"{text} (not yet)")
    args, _ = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    print(f"nbcap {args.command}: not yet", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
