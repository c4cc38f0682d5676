"""Number formats (storage bits, compute path) and the precision choice of a deployment."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from infercost.errors import InfercostError
from infercost.specs.hardware import Hardware
from infercost.specs.model import Frozen


class NumberFormat(Frozen):
    id: str
    bits_per_element: float = Field(gt=0)
    kind: Literal["float", "int", "gguf"]
    compute_at: tuple[str, ...]  # peak keys tried in order; the first one the hardware has wins
    block_size: int | None = None
    description: str | None = None
    source: str
    as_of: str | None

    @property
    def bytes_per_element(self) -> float:
        return self.bits_per_element / 8.0


class Precision(Frozen):
    """Weights, activations and KV cache formats. Embeddings and norms stay at activation precision
    except for GGUF files, which quantize the embedding tables too."""

    weights: NumberFormat
    activations: NumberFormat
    kv: NumberFormat

    def compute_key(self, hw: Hardware) -> str:
        """Peak key the weight matmuls run at on `hw` (e.g. fp8 W8A8 on Hopper, bf16 on Ampere)."""
        for key in (*self.weights.compute_at, *self.activations.compute_at, "fp16", "bf16", "fp32"):
            if hw.peak_flops(key) is not None:
                return key
        raise InfercostError(
            "hardware.peak_tflops", hw.id, "the catalog has no peak FLOP/s for any usable format"
        )

    def attention_compute_key(self, hw: Hardware) -> str:
        """Peak key of the attention core (runs at activation precision)."""
        for key in (*self.activations.compute_at, "fp16", "bf16", "fp32"):
            if hw.peak_flops(key) is not None:
                return key
        return self.compute_key(hw)

    @property
    def embedding_bytes_per_element(self) -> float:
        fmt = self.weights if self.weights.kind == "gguf" else self.activations
        return fmt.bytes_per_element
