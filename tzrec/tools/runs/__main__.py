"""``python -m tzrec.tools.runs``: see :mod:`tzrec.tools.runs.cli`."""

from tzrec.tools.runs.cli import cli

cli()
