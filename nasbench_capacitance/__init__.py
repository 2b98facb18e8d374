"""nasbench_capacitance: the neural capacitance metric β_eff on NAS-Bench-201.

Modules: ``space`` (search space), ``model`` (TinyNetwork), ``probe`` and ``capacitance`` (the
probe head and the β_eff kernel), ``data`` (CIFAR-10), ``benchmark`` (ground truth),
``training`` (few-epoch trainer), ``metrics`` (the predictor registry), ``evaluation`` (rank
statistics), ``store`` (SQLite results).
"""

__version__ = "0.1.0"
