"""The one error bad operator configuration raises."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """Invalid operator configuration: every problem found, each naming its key and value.

    Raised whole, so the caller can keep the configuration already in force.
    """

    def __init__(self, problems: Iterable[str], *, source: str | None = None) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        self.source = source
        where = f" in {source}" if source else ""
        count = len(self.problems)
        summary = f"invalid operator configuration{where} ({count} problem{'s' if count != 1 else ''}): "
        super().__init__(summary + "; ".join(self.problems))
