"""Command-line options shared by the benchmark scripts: the reduced training configuration."""

from __future__ import annotations

import argparse


def add_reduced_config_args(p: argparse.ArgumentParser, archs: int) -> None:
    """Network, data and budget options; defaults are the reference reduced CPU configuration."""
    p.add_argument("--archs", type=int, default=archs)
    p.add_argument("--C", type=int, default=8)
    p.add_argument("--N", type=int, default=5)
    p.add_argument("--resolution", type=int, default=16)
    p.add_argument("--train-images", type=int, default=10000)
    p.add_argument("--valid-images", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
