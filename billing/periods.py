"""Billing periods are calendar months in UTC."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from config.errors import DomainError

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    start: date

    @property
    def end(self) -> date:
        return date(self.start.year + self.start.month // 12, self.start.month % 12 + 1, 1)

    @property
    def start_at(self) -> datetime:
        return datetime(self.start.year, self.start.month, 1, tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        return datetime(self.end.year, self.end.month, 1, tzinfo=UTC)

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m")

    def next(self) -> "Period":
        return Period(self.end)

    def previous(self) -> "Period":
        year, month = (self.start.year, self.start.month - 1) if self.start.month > 1 else (self.start.year - 1, 12)
        return Period(date(year, month, 1))

    @classmethod
    def of(cls, moment: datetime | date) -> "Period":
        return cls(date(moment.year, moment.month, 1))


def period_parse(value: object, *, field: str = "period") -> Period:
    if not isinstance(value, str):
        raise DomainError("Must be a string YYYY-MM.", field=field)
    match = _PERIOD.match(value)
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise DomainError(f"{value!r} is not a period YYYY-MM.", field=field)
    return Period(date(int(match.group(1)), int(match.group(2)), 1))
