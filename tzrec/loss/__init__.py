"""tzrec.loss."""
