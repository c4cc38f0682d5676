"""infercost: latency, throughput and dollars of serving an LLM on given hardware.

The public calls answer users' questions; the CLI, API and reports call exactly these.
"""

from infercost.audit import AuditReport, audit
from infercost.calibration import CalibrationProfile, fit_calibration, load_calibration
from infercost.econ.compare import Comparison, compare
from infercost.econ.frontier import Frontier, frontier
from infercost.errors import DoesNotFitError, InfercostError
from infercost.estimation import Estimate, estimate
from infercost.plan import Plan, plan
from infercost.simulation import Simulation, simulate
from infercost.validation import validate

__all__ = [
    "AuditReport",
    "CalibrationProfile",
    "Comparison",
    "DoesNotFitError",
    "Estimate",
    "Frontier",
    "InfercostError",
    "Plan",
    "Simulation",
    "audit",
    "compare",
    "estimate",
    "fit_calibration",
    "frontier",
    "load_calibration",
    "plan",
    "simulate",
    "validate",
]
__version__ = "0.1.0"
