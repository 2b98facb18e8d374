"""``nbcap compare``: any training-free metric (a plug-in, imported scores, a built-in) beside every
built-in baseline on the same cells, and inside a search; one report with its figures and CSVs."""
