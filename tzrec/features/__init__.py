"""tzrec.features."""
