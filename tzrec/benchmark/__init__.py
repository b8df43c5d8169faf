"""Throughput benchmarks: ``python -m tzrec.benchmark`` (see ``__main__``).

Modules: workload (data and per-case configs), train_bench (the real
train_eval session, timed), reference_bench (the independent reference of
:mod:`tzrec.benchmark.reference`, the headline comparison), lean_loop (tzrec's
own model in a bare loop: framework overhead), data_bench (data loading
alone), runner (interleaved repeats), report (medians, ratios, table, JSON
line), rss (peak memory per case); configs/ holds the Criteo-shaped configs
of ``--model``.
"""

# Cases that --skip can leave out (kept here: importing it loads no torch).
SKIPPABLE = ("reference", "lean", "overhead", "data", "eval")
# --model NAME benchmarks configs/criteo_NAME.config on Criteo-shaped data.
CRITEO_MODELS = ("deepfm", "dlrm", "dcn_v2", "wide_and_deep")
