"""tzrec.datasets."""
