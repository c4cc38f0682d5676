"""How one model replica is split over chips."""

from __future__ import annotations

from pydantic import Field

from infercost.specs.model import Frozen


class Parallelism(Frozen):
    """`tp` tensor, `pp` pipeline stages, `dp` attention data-parallel groups, `ep` expert parallel.

    A replica uses `tp * pp * dp` chips. Dense layers are split `tp` ways and repeated on each of the
    `dp` groups; routed experts are spread over all `tp * dp` chips of a stage (`ep` of them hold
    distinct experts, which turns the MoE all-reduce into an all-to-all).
    """

    tp: int = Field(1, ge=1)
    pp: int = Field(1, ge=1)
    dp: int = Field(1, ge=1)
    ep: int = Field(1, ge=1)

    @property
    def chips(self) -> int:
        return self.tp * self.pp * self.dp
