"""The one exception type for user mistakes: a single line naming the field, the value and what is allowed."""

from __future__ import annotations

from typing import Any


class InfercostError(ValueError):
    """Bad input from a user. The CLI prints the message alone and exits with status 2."""

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}: {value!r} is not valid; {allowed}")


class DoesNotFitError(InfercostError):
    """The model (plus its minimum KV and runtime reserve) does not fit in the memory of the deployment."""
