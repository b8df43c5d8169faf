"""``python -m tzrec.tools.runs``: look at training runs (show, compare, plot).

* :mod:`~tzrec.tools.runs.cli`: the subcommands' flags and entry point.
* :mod:`~tzrec.tools.runs.load`: one run's files read into a :class:`Run`.
* :mod:`~tzrec.tools.runs.timeline`: launches, stops and status from events.
* :mod:`~tzrec.tools.runs.tb`: TensorBoard scalars of a run.
* :mod:`~tzrec.tools.runs.show`, :mod:`~tzrec.tools.runs.compare`,
  :mod:`~tzrec.tools.runs.plot`: the three subcommands' output.
* :mod:`~tzrec.tools.runs.config`: config differences as dotted paths.
* :mod:`~tzrec.tools.runs.table`: plain-text tables and number formats.
"""

from tzrec.tools.runs.cli import cli

__all__ = ["cli"]
