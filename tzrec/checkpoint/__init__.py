"""tzrec.checkpoint."""
