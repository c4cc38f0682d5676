"""The only files a request may name: catalog ids pass through, paths must lie in the data directory.

The library reads a model's `config.json`, a hardware or price-sheet YAML, a trace or a token-count
file when it is given a path. Over HTTP every such reference goes through `DataDir` first, which
returns a catalog id unchanged or the absolute path of a file inside the configured directory, and
refuses anything else — absolute paths, `..`, symlinks leading out — before the library sees it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infercost import catalog
from infercost.errors import InfercostError

_SPEC_SUFFIXES = (".yaml", ".yml")


def is_file_ref(ref: str) -> bool:
    """What `catalog.hardware` and the price-sheet loaders treat as a file, not an id."""
    return Path(ref).suffix in _SPEC_SUFFIXES if "\x00" not in ref else True


class DataDir:
    def __init__(self, root: Path | None) -> None:
        self.root = root.resolve() if root is not None else None

    def file(self, ref: str, field: str) -> Path:
        """A file (or model directory) inside the data directory, by its relative path."""
        if self.root is None:
            raise InfercostError(
                field,
                ref,
                "a file path needs a data directory (infercost serve --data-dir DIR); "
                "use a catalog id instead",
            )
        if "\x00" in ref or not ref.strip():
            raise InfercostError(field, ref, "a path relative to the data directory")
        path = Path(ref)
        if path.is_absolute():
            raise InfercostError(field, ref, "a path relative to the data directory, not absolute")
        full = (self.root / path).resolve()
        if not full.is_relative_to(self.root):
            raise InfercostError(field, ref, "must stay inside the data directory")
        if not full.exists():
            raise InfercostError(field, ref, "no such file in the data directory")
        return full

    def model(self, ref: str, field: str = "model") -> str:
        if ref.strip().lower() in catalog.model_ids():
            return ref
        if self.root is None:
            close = difflib.get_close_matches(ref.strip().lower(), catalog.model_ids(), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise InfercostError(field, ref, f"not a catalog model id (GET /api/models){hint}")
        return str(self.file(ref, field))

    def hardware(self, ref: str, field: str = "hardware") -> str:
        return str(self.file(ref, field)) if is_file_ref(ref) else ref

    def sheet(self, ref: str, field: str = "sheet") -> str:
        return str(self.file(ref, field)) if is_file_ref(ref) else ref

    def check_inside(self, spec: Any, field: str) -> None:
        """Refuse a validated spec holding any path outside the data directory."""
        for path in paths_in(spec):
            full = path.resolve()
            if self.root is None or not full.is_relative_to(self.root):
                raise InfercostError(field, str(path), "must be a file inside the data directory")

    # --- whole documents -----------------------------------------------------------------------

    def scenario(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """A scenario mapping with its model, hardware and workload files made safe."""
        out = dict(data)
        if isinstance(out.get("model"), str):
            out["model"] = self.model(out["model"], "scenario.model")
        out["deployment"] = self._deployment(out.get("deployment"), "scenario.deployment")
        cluster = out.get("cluster")
        if isinstance(cluster, Mapping) and isinstance(cluster.get("groups"), list | tuple):
            groups = [
                {**g, "deployment": self._deployment(g.get("deployment"), f"groups.{i}.deployment")}
                if isinstance(g, Mapping)
                else g
                for i, g in enumerate(cluster["groups"])
            ]
            out["cluster"] = {**cluster, "groups": groups}
        if "workload" in out:
            out["workload"] = self._paths(out["workload"], "scenario.workload")
        return out

    def plan(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """A plan mapping with its model, searched hardware and workload files made safe."""
        out = dict(data)
        if isinstance(out.get("model"), str):
            out["model"] = self.model(out["model"], "plan.model")
        search = out.get("search")
        if isinstance(search, Mapping) and isinstance(search.get("hardware"), list | tuple):
            out["search"] = {
                **search,
                "hardware": [
                    self.hardware(h, f"plan.search.hardware.{i}") if isinstance(h, str) else h
                    for i, h in enumerate(search["hardware"])
                ],
            }
        if "workload" in out:
            out["workload"] = self._paths(out["workload"], "plan.workload")
        return out

    def _deployment(self, block: Any, where: str) -> Any:
        if isinstance(block, Mapping) and isinstance(block.get("hardware"), str):
            return {**block, "hardware": self.hardware(block["hardware"], f"{where}.hardware")}
        return block

    def _paths(self, value: Any, where: str) -> Any:
        """Every `path: ...` string anywhere below `value` (traces, empirical token counts)."""
        if isinstance(value, Mapping):
            return {
                k: str(self.file(v, f"{where}.{k}"))
                if k == "path" and isinstance(v, str)
                else self._paths(v, f"{where}.{k}")
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self._paths(v, f"{where}.{i}") for i, v in enumerate(value)]
        return value

    def workload(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """A `cost` workload mapping with its price sheets and self-hosted model made safe."""
        out = dict(data)
        for key in ("pricing", "small_model"):
            block = out.get(key)
            if not isinstance(block, Mapping):
                continue
            block = dict(block)
            if isinstance(block.get("sheet"), str):
                block["sheet"] = self.sheet(block["sheet"], f"{key}.sheet")
            hosted = block.get("self_hosted")
            if isinstance(hosted, Mapping):
                hosted = dict(hosted)
                if isinstance(hosted.get("model"), str):
                    hosted["model"] = self.model(hosted["model"], f"{key}.self_hosted.model")
                if isinstance(hosted.get("hardware"), str):
                    hosted["hardware"] = self.hardware(
                        hosted["hardware"], f"{key}.self_hosted.hardware"
                    )
                block["self_hosted"] = hosted
            out[key] = block
        return out


def paths_in(value: Any) -> list[Path]:
    """Every `Path` held anywhere in a validated spec (the second check after `DataDir`)."""
    from pydantic import BaseModel

    if isinstance(value, Path):
        return [value]
    if isinstance(value, BaseModel):
        return [p for name in type(value).model_fields for p in paths_in(getattr(value, name))]
    if isinstance(value, Mapping):
        return [p for v in value.values() for p in paths_in(v)]
    if isinstance(value, list | tuple):
        return [p for v in value for p in paths_in(v)]
    return []
