"""Model-quality benchmark: eval AUC of tzrec against other trainers on the same rows.

See ``python -m tzrec.benchmark.quality --help`` (tzrec.benchmark.quality.__main__).
"""
