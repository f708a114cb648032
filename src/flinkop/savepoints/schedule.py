"""Periodic snapshot schedules (``kubernetes.operator.periodic.{savepoint,checkpoint}.interval``): a Flink
duration or a Quartz cron expression, and whether a periodic snapshot is due (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flinkop.config.units import parse_duration
from flinkop.savepoints.cron import CronError, CronSchedule, looks_like_cron, parse_cron


class ScheduleError(ValueError):
    """Neither a duration nor a cron expression this operator can evaluate."""


@dataclass(frozen=True)
class Schedule:
    """Exactly one of ``interval`` (seconds; 0 = off) and ``cron`` is set."""

    text: str
    interval: float | None = None
    cron: CronSchedule | None = None

    def next_after(self, last_trigger: datetime) -> datetime | None:
        if self.cron is not None:
            return self.cron.next_after(last_trigger)
        if not self.interval:
            return None
        return last_trigger + timedelta(seconds=self.interval)

    def due(self, last_trigger: datetime, now: datetime) -> bool:
        """Upstream's rule: the next trigger time after the last one lies strictly in the past."""
        upcoming = self.next_after(last_trigger)
        return upcoming is not None and upcoming < now


def parse_schedule(text: str) -> Schedule | None:
    """None for an empty (disabled) schedule; raises :class:`ScheduleError` for an unreadable one."""
    text = text.strip()
    if not text:
        return None
    try:
        return Schedule(text, interval=parse_duration(text))
    except ValueError:
        pass
    if not looks_like_cron(text):
        raise ScheduleError(f"{text!r} is neither a duration nor a Quartz cron expression")
    try:
        return Schedule(text, cron=parse_cron(text))
    except CronError as error:
        raise ScheduleError(str(error)) from None


__all__ = ["Schedule", "ScheduleError", "parse_schedule"]
