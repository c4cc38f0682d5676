"""The HTTP API and web dashboard: `create_app(data_dir=...)`, served by `infercost serve`."""

from infercost.api.app import create_app
from infercost.api.limits import Limits

__all__ = ["Limits", "create_app"]
