"""tzrec.benchmark."""
