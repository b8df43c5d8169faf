"""Throughput benchmarks: ``python -m tzrec.benchmark`` (see ``__main__``).

Modules: workload (data and per-case configs), train_bench (the real
train_eval session, timed), lean_loop (the hand-written loop it is compared
with), data_bench (data loading alone), runner (interleaved repeats), report
(medians, ratios, table, JSON line).
"""

# Cases that --skip can leave out (kept here: importing it loads no torch).
SKIPPABLE = ("lean", "overhead", "data", "eval")
