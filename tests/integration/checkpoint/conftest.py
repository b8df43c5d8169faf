"""Fixtures of the checkpoint integration tests: the unit tier's process group."""

from tests.unit.checkpoint.conftest import process_group

__all__ = ["process_group"]
