"""The run directory (model_dir): its names, markers, durable writes, eval log.

One home for the model_dir contract of ``DESIGN.md``:

* :mod:`~tzrec.run_dir.names`: every file and folder name in a model_dir,
  a checkpoint and an export (``DONE``, ``pipeline.config``, the eval log, ...);
* :mod:`~tzrec.run_dir.atomic`: atomic replace + fsync, durable writes;
* :mod:`~tzrec.run_dir.marker`: the ``DONE`` marker with its checksums;
* :mod:`~tzrec.run_dir.jsonl`: append-only JSON lines, torn lines skipped;
* :mod:`~tzrec.run_dir.eval_log`: the eval log, written, read, read incrementally;
* :mod:`~tzrec.run_dir.best`: the best evaluation so far, one ranking rule.

Light to import (no torch at import time), so CLIs and tools can use it.
"""
