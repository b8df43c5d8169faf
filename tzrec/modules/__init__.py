"""tzrec.modules."""
