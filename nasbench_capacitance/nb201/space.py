"""The NAS-Bench-201 search space: operations, architecture strings, official indices, isomorphism.

A cell is a DAG on 4 nodes; each of its 6 edges (j -> i, j < i) carries one of 5 operations. The
string form is NB201's: ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (groups are nodes 1, 2, 3; ``op~j``
applies ``op`` to node j). Official indices follow the order of the benchmark file, which is not a
systematic enumeration, so the order ships with the package (``index_order.bin``, one base-5
code per index, written by ``scripts/make_index_order.py``).
"""

from __future__ import annotations

import functools
import importlib.resources
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NUM_NODES = 4
# Edges in string order: node 1 <- 0; node 2 <- 0, 1; node 3 <- 0, 1, 2.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_ARCHS = len(OPS) ** len(EDGES)  # 15,625

_ORDER_FILE = "index_order.bin"

# NASLib numbers the operations in another order and walks the edges as 0-1, 0-2, 0-3, 1-2, 1-3, 2-3.
NASLIB_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
_NASLIB_EDGE_OF: tuple[int, ...] = (0, 1, 3, 2, 4, 5)  # our edge e is NASLib's edge _NASLIB_EDGE_OF[e]


@dataclass(frozen=True)
class Arch:
    """One NB201 cell: ``ops[e]`` is the operation on edge ``EDGES[e]``."""

    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.ops) != len(EDGES):
            raise ValueError(f"an NB201 cell has {len(EDGES)} edges, got {len(self.ops)} operations")
        for op in self.ops:
            if op not in OPS:
                raise ValueError(f"unknown operation {op!r}; valid operations: {', '.join(OPS)}")

    @classmethod
    def from_string(cls, text: str) -> Arch:
        """Parse ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``; the error names the offending part."""
        if not isinstance(text, str):
            raise ValueError(f"an architecture string is expected, got {type(text).__name__}")
        groups = text.strip().split("+")
        if len(groups) != NUM_NODES - 1:
            raise ValueError(
                f"malformed architecture {text!r}: expected {NUM_NODES - 1} '+'-separated node groups, "
                f"got {len(groups)}; example: |nor_conv_3x3~0|+|none~0|skip_connect~1|+|...~0|...~1|...~2|"
            )
        ops: list[str] = []
        for node, group in enumerate(groups, start=1):
            if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
                raise ValueError(f"malformed node group {group!r} in {text!r}: it must start and end with '|'")
            tokens = group[1:-1].split("|")
            if len(tokens) != node:
                raise ValueError(f"node {node} group {group!r} in {text!r} must have {node} inputs, got {len(tokens)}")
            for source, token in enumerate(tokens):
                op, sep, src = token.partition("~")
                if not sep or src != str(source):
                    raise ValueError(
                        f"bad token {token!r} in {text!r}: expected 'op~{source}' (input {source} of node {node})"
                    )
                if op not in OPS:
                    raise ValueError(
                        f"bad token {token!r} in {text!r}: unknown operation {op!r}; valid: {', '.join(OPS)}"
                    )
                ops.append(op)
        return cls(tuple(ops))

    @classmethod
    def parse(cls, spec: Any) -> Arch:
        """An ``Arch`` from whatever names a cell in the tools NAS users hold.

        Accepted: an ``Arch``; an NB201 string; an official index (int, or digits in a string); a
        NASLib op-index sequence of 6 ints (:meth:`from_naslib`); a NASLib graph (``get_op_indices()``)
        or an xautodl ``Structure`` (``tostr()``).
        """
        if isinstance(spec, Arch):
            return spec
        if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
            return arch_from_index(int(spec))
        if isinstance(spec, str):
            if spec.strip().lstrip("-").isdigit():
                return arch_from_index(int(spec))
            if _looks_numeric(spec):
                raise ValueError(f"an NB201 index is a whole number 0..{NUM_ARCHS - 1}, got {spec!r}")
            return cls.from_string(spec)
        if isinstance(spec, (tuple, list, np.ndarray)):
            return cls.from_naslib(spec)
        if callable(getattr(spec, "get_op_indices", None)):
            return cls.from_naslib(spec.get_op_indices())
        if callable(getattr(spec, "tostr", None)):
            return cls.from_string(spec.tostr())
        raise ValueError(
            f"cannot read an NB201 cell from {type(spec).__name__}: give an NB201 string, an index, a NASLib "
            "op-index tuple or an object with tostr() (xautodl Structure)"
        )

    @classmethod
    def from_naslib(cls, op_indices: Sequence[Any] | np.ndarray) -> Arch:
        """A cell from NASLib's op-index tuple (``graph.get_op_indices()``; ops in :data:`NASLIB_OPS` order)."""
        values = list(op_indices)
        if len(values) != len(EDGES) or not all(
            isinstance(v, (int, np.integer)) and 0 <= v < len(NASLIB_OPS) for v in values
        ):
            raise ValueError(
                f"a NASLib NB201 op-index tuple has {len(EDGES)} ints in 0..{len(NASLIB_OPS) - 1}, got {op_indices!r}"
            )
        return cls(tuple(NASLIB_OPS[int(values[_NASLIB_EDGE_OF[e]])] for e in range(len(EDGES))))

    def to_naslib(self) -> tuple[int, ...]:
        """NASLib's op-index tuple of this cell (the inverse of :meth:`from_naslib`)."""
        out = [0] * len(EDGES)
        for e, op in enumerate(self.ops):
            out[_NASLIB_EDGE_OF[e]] = NASLIB_OPS.index(op)
        return tuple(out)

    def to_string(self) -> str:
        parts, e = [], 0
        for node in range(1, NUM_NODES):
            parts.append("|" + "|".join(f"{self.ops[e + j]}~{j}" for j in range(node)) + "|")
            e += node
        return "+".join(parts)

    def __str__(self) -> str:
        return self.to_string()

    @property
    def code(self) -> int:
        """Base-5 number of the op ids in edge order (the key of the shipped index order)."""
        value = 0
        for op in self.ops:
            value = value * len(OPS) + OPS.index(op)
        return value

    @classmethod
    def from_code(cls, code: int) -> Arch:
        if not 0 <= code < NUM_ARCHS:
            raise ValueError(f"architecture code {code} out of range 0..{NUM_ARCHS - 1}")
        ops = []
        for _ in EDGES:
            code, op = divmod(code, len(OPS))
            ops.append(OPS[op])
        return cls(tuple(reversed(ops)))

    @property
    def index(self) -> int:
        """Official NB201 index."""
        return int(_code_to_index()[self.code])

    def node_inputs(self, node: int) -> list[tuple[str, int]]:
        """``(op, source)`` pairs feeding ``node`` (1..3)."""
        return [(op, src) for op, (dst, src) in zip(self.ops, EDGES) if dst == node]

    def count(self, op: str) -> int:
        return sum(o == op for o in self.ops)

    @property
    def iso_key(self) -> str:
        """Canonical string of the computed function (NATS-Bench ``get_unique_str`` semantics).

        ``none`` inputs (and inputs from nodes that are exactly zero) drop out as ``#``, ``skip_connect``
        is the identity, and the terms of each sum are sorted, so cells that compute the same function
        up to edge relabelling share a key. This reproduces the 6,466 classes of NATS-Bench.
        """
        nodes = {0: "0"}
        for node in range(1, NUM_NODES):
            terms = []
            for op, src in self.node_inputs(node):
                if op == "none" or nodes[src] == "#":
                    terms.append("#")
                elif op == "skip_connect":
                    terms.append(nodes[src])
                else:
                    terms.append(f"({nodes[src]})@{op}")
            nodes[node] = "+".join(sorted(terms))
        return nodes[NUM_NODES - 1]


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _index_to_code() -> np.ndarray:
    raw = importlib.resources.files(__package__).joinpath(_ORDER_FILE).read_bytes()
    codes = np.frombuffer(raw, dtype="<u2").astype(np.int64)
    if codes.shape != (NUM_ARCHS,) or len(np.unique(codes)) != NUM_ARCHS:
        raise RuntimeError(f"the packaged {_ORDER_FILE} is damaged; reinstall nasbench_capacitance")
    return codes


@functools.lru_cache(maxsize=1)
def _code_to_index() -> np.ndarray:
    inverse = np.empty(NUM_ARCHS, dtype=np.int64)
    inverse[_index_to_code()] = np.arange(NUM_ARCHS)
    return inverse


def arch_from_index(index: int) -> Arch:
    """The architecture at an official NB201 index (0..15624)."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise ValueError(f"an NB201 index must be an integer, got {index!r}")
    if not 0 <= int(index) < NUM_ARCHS:
        raise ValueError(f"NB201 index {index} out of range 0..{NUM_ARCHS - 1}")
    return Arch.from_code(int(_index_to_code()[int(index)]))


@functools.lru_cache(maxsize=1)
def neighbour_indices() -> np.ndarray:
    """``(15625, 24)``: row i holds the official indices of the cells one edit away from cell i.

    Column ``4 * e + k`` changes edge ``e`` to the ``k``-th other operation; this is the mutation of
    regularized evolution and the move set of proxy-guided search.
    """
    codes = _index_to_code()
    out = np.empty((NUM_ARCHS, len(EDGES) * (len(OPS) - 1)), dtype=np.int64)
    for e in range(len(EDGES)):
        place = len(OPS) ** (len(EDGES) - 1 - e)
        digit = (codes // place) % len(OPS)
        for k in range(1, len(OPS)):
            changed = codes + (((digit + k) % len(OPS)) - digit) * place
            out[:, 4 * e + k - 1] = _code_to_index()[changed]
    return out


def all_archs() -> list[Arch]:
    """All 15,625 architectures in official index order."""
    return [Arch.from_code(int(c)) for c in _index_to_code()]


@functools.lru_cache(maxsize=1)
def _class_representatives() -> tuple[int, ...]:
    """The lowest official index of every isomorphism class, in ascending order."""
    seen: dict[str, int] = {}
    for index, arch in enumerate(all_archs()):
        seen.setdefault(arch.iso_key, index)
    return tuple(sorted(seen.values()))


def unique_indices() -> tuple[int, ...]:
    """One official index per isomorphism class (its lowest), ascending: 6,466 of them."""
    return _class_representatives()


def sample_indices(n: int, seed: int, unique: bool = False) -> list[int]:
    """``n`` distinct official indices, uniform over all architectures or over isomorphism classes.

    With ``unique=True`` each class contributes at most one architecture (its lowest index), so the
    sample holds no two cells that compute the same function.
    """
    population = list(unique_indices()) if unique else list(range(NUM_ARCHS))
    if not 0 <= n <= len(population):
        raise ValueError(f"cannot sample {n} architectures from {len(population)} (unique={unique})")
    return random.Random(seed).sample(population, n)
