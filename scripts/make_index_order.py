"""Write nasbench_capacitance/nb201/index_order.bin from a table with NB201's `index,arch_str` columns.

The official index order is the order of `meta_archs` in the benchmark file and is not a systematic
enumeration; this file records it as one little-endian uint16 base-5 op code per index.
Usage: python scripts/make_index_order.py path/to/nb201_merged.csv
"""

import csv
import sys
from pathlib import Path

import numpy as np

from nasbench_capacitance.nb201.space import NUM_ARCHS, Arch

rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert [int(r["index"]) for r in rows] == list(range(NUM_ARCHS)), "the table must list indices 0..15624 in order"
codes = np.array([Arch.from_string(r["arch_str"]).code for r in rows], dtype="<u2")
out = Path(__file__).resolve().parent.parent / "nasbench_capacitance" / "nb201" / "index_order.bin"
out.write_bytes(codes.tobytes())
print(f"wrote {out} ({len(codes)} codes)")
