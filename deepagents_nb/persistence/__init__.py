"""Checkpointers: the protocol and its backends.

Backends with optional dependencies (`redis`, `postgres`, `dynamodb`) are
imported from their own modules, so their drivers load only when used.
"""

from deepagents_nb.persistence.base import Checkpoint, Checkpointer, CheckpointInfo
from deepagents_nb.persistence.memory import InMemoryCheckpointer

__all__ = ["Checkpoint", "CheckpointInfo", "Checkpointer", "InMemoryCheckpointer"]
