"""tzrec.monitor."""
