"""NAS on NB201 with any metric as a proxy, on NATS-Bench's simulated clock.

:mod:`.simulation` (the benchmark as a search sees it, the clock), :mod:`.algorithms` (random, REA
and the proxy-guided variants), :mod:`.study` (seeded searches, their store and summaries),
:mod:`.experiment` (what ``nbcap search`` runs).
"""

from .algorithms import ALGORITHMS, algorithm
from .experiment import run_search_study
from .simulation import DATASETS, Benchmark, Simulation, Trajectory

__all__ = ["ALGORITHMS", "DATASETS", "Benchmark", "Simulation", "Trajectory", "algorithm", "run_search_study"]
