"""infercost: latency, throughput and dollars of serving an LLM on given hardware.

The public calls answer users' questions; the CLI, API and reports call exactly these.
"""

from infercost.errors import DoesNotFitError, InfercostError
from infercost.estimation import Estimate, estimate

__all__ = ["DoesNotFitError", "Estimate", "InfercostError", "estimate"]
__version__ = "0.1.0"
