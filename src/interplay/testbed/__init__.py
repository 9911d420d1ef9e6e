"""The testbed: simulated and live microservices with injected faults and recorded ground truth.

It speaks to Interplay only as a user's services would (OTLP and change events) and imports
nothing of Interplay's internals.
"""

from ._corpus import simulate_corpus
from ._faults import EXPORTS
from ._live import DEFAULT_SCENARIO, list_scenarios, run_scenario
from ._simulate import simulate
from ._topology import CLASSIC_FAULTS, DEFAULT_TOPOLOGIES, FAULTS, NEW_FAULTS, TOPOLOGIES

__all__ = ["CLASSIC_FAULTS", "DEFAULT_SCENARIO", "DEFAULT_TOPOLOGIES", "EXPORTS", "FAULTS", "NEW_FAULTS", "TOPOLOGIES",
           "list_scenarios", "run_scenario", "simulate", "simulate_corpus"]
