"""Export and inference: from a run's checkpoint to a servable model and back.

* :mod:`~tzrec.export.exporter`: ``python -m tzrec.export``, checkpoint
  selection and the export directory.
* :mod:`~tzrec.export.inference_model`: the TorchScript model an export holds.
* :mod:`~tzrec.export.eager`: the unsharded model loaded from a checkpoint
  (export, and ``python -m tzrec.predict`` in checkpoint mode).
* :mod:`~tzrec.export.self_check`: the export's scripted-vs-eager check.
* :mod:`~tzrec.export.predictor`: the model ``python -m tzrec.predict`` scores
  with (exported or from a checkpoint).
* :mod:`~tzrec.export.predict_io`: ``python -m tzrec.predict``'s streaming I/O.
"""

from tzrec.export.exporter import (
    CONFIG_FILE,
    META_FILE,
    SCRIPTED_FILE,
    Selection,
    build_parser,
    check_export_dir,
    export,
    main,
    select_checkpoint,
)

__all__ = [
    "CONFIG_FILE",
    "META_FILE",
    "SCRIPTED_FILE",
    "Selection",
    "build_parser",
    "check_export_dir",
    "export",
    "main",
    "select_checkpoint",
]
