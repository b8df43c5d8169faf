"""tzrec.utils."""
