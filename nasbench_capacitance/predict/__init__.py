"""The few-shot predictor over a whole-space table: fit on N cells with known accuracy, rank the others.

``fit_table`` (:mod:`.space`) fits it on a table's features; ``nbcap predict`` (:mod:`.run`) writes the
ranked space; :mod:`.curve` measures it against N over seeded calibration draws. The features and the
models are the ``few_shot`` metric's (:mod:`nasbench_capacitance.metrics.few_shot`).
"""
