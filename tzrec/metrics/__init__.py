"""tzrec.metrics."""
