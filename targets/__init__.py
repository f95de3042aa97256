"""snnc.targets: chips as data (cores, memories, limits) and their configuration writers."""
from .speck import TARGETS, Target, get_target

__all__ = ["TARGETS", "Target", "get_target"]
