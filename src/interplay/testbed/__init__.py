"""The testbed: simulated and live microservices with injected faults and recorded ground truth.

It speaks to Interplay only as a user's services would (OTLP and change events) and imports
nothing of Interplay's internals.
"""

from ._corpus import simulate_corpus
from ._simulate import simulate
from ._topology import FAULTS, TOPOLOGIES

__all__ = ["FAULTS", "TOPOLOGIES", "simulate", "simulate_corpus"]
