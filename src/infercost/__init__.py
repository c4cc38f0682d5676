"""infercost: latency, throughput and dollars of serving an LLM on given hardware.

The public calls answer users' questions; the CLI, API and reports call exactly these.
"""

from infercost.econ.frontier import Frontier, frontier
from infercost.errors import DoesNotFitError, InfercostError
from infercost.estimation import Estimate, estimate
from infercost.simulation import Simulation, simulate

__all__ = [
    "DoesNotFitError",
    "Estimate",
    "Frontier",
    "InfercostError",
    "Simulation",
    "estimate",
    "frontier",
    "simulate",
]
__version__ = "0.1.0"
