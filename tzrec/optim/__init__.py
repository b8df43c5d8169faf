"""tzrec.optim."""
