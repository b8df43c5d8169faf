"""tzrec.models."""
