"""``python -m tzrec.export``: see :mod:`tzrec.export.exporter`."""

from tzrec.export.exporter import build_parser, main
from tzrec.utils.cli import run_main

run_main(main, build_parser())
