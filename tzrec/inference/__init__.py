"""Inference: the unsharded model from a checkpoint, streaming prediction I/O."""
