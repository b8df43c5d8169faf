"""tzrec.tools."""
