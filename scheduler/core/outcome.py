"""Raw outcome of a solver on the internal form, before ids are mapped back."""

from __future__ import annotations

from dataclasses import dataclass

from .problem import Status


@dataclass
class Outcome:
    """Status, chosen node index per task (None when there is no solution),
    internal objective and, for the exact solver, the proven bound."""

    status: Status
    choice: list[int] | None
    objective: float | None = None
    bound: float | None = None
    message: str = ""
