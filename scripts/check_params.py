"""Check that build_network(arch, C=16, N=5, num_classes=10) has NB201's parameter count for every cell.

Usage: python scripts/check_params.py [path/to/nb201_merged.csv]   (default: $NBCAP_DATA/nb201/nb201_merged.csv)
Networks are built on the meta device (no memory, no initialisation); all 15,625 take about 8 minutes
on 2 CPU cores.
"""

import csv
import sys

from nasbench_capacitance import paths
from nasbench_capacitance.nb201.model import count_parameters_matching_table

table = sys.argv[1] if len(sys.argv) > 1 else paths.data_root() / "nb201" / "nb201_merged.csv"
with open(table, newline="") as f:
    rows = list(csv.DictReader(f))
mismatches = count_parameters_matching_table(rows)
print(f"{len(rows) - len(mismatches)} of {len(rows)} architectures match params_mb_c10")
for index, ours, theirs in mismatches[:20]:
    print(f"  index {index}: ours {ours} table {theirs}")
sys.exit(1 if mismatches else 0)
