"""tzrec.train."""
