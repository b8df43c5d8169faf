"""tzrec: config-driven CTR ranking training on torchrec."""

__version__ = "0.1.0"
