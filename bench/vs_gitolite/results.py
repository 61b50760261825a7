"""Result rows: medians per system, the ratio ours/gitolite and the issue's target for it."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field


@dataclass
class Row:
    """One measure at one size. Times are seconds (medians of ``reps`` runs)."""

    measure: str
    size: int | None
    gitolite: float | None
    ours: float | None
    floor: float | None = None
    target: float = 1.0
    reps: int = 0
    note: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.gitolite is None or self.ours is None or self.gitolite <= 0:
            return None
        return self.ours / self.gitolite

    @property
    def verdict(self) -> str:
        ratio = self.ratio
        if ratio is None:
            return "n/a"
        return "ok" if ratio <= self.target else "MISSED"

    def to_json(self) -> dict:
        data = asdict(self)
        data["ratio"] = self.ratio
        data["verdict"] = self.verdict
        return data


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def target_for(measure: str, size: int | None, big: int) -> float:
    """The issue's targets; ``big`` is the size the "at 10,000 repos" targets apply to."""
    if measure.startswith("wrapper overhead"):
        return 0.5
    if measure.startswith("access"):
        return 0.5
    if measure.startswith("compile") and size == big:
        return 0.25
    if measure.startswith("POST_COMPILE") and size == big:
        return 0.1
    return 1.0
