"""Billing periods are calendar months in UTC: the one place that knows the month arithmetic."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from core.errors import DomainError

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    start: date

    def __post_init__(self) -> None:
        if self.start.day != 1:
            raise ValueError(f"A period starts on the first of a month, not {self.start}.")

    @property
    def end(self) -> date:
        return self.add(1).start

    @property
    def start_at(self) -> datetime:
        return datetime(self.start.year, self.start.month, 1, tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        end = self.end
        return datetime(end.year, end.month, 1, tzinfo=UTC)

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m")

    def add(self, months: int) -> "Period":
        index = self.start.year * 12 + self.start.month - 1 + months
        return Period(date(index // 12, index % 12 + 1, 1))

    def next(self) -> "Period":
        return self.add(1)

    def previous(self) -> "Period":
        return self.add(-1)

    @classmethod
    def of(cls, moment: datetime | date) -> "Period":
        """The period holding `moment`; an aware datetime is read in UTC."""
        if isinstance(moment, datetime) and moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return cls(date(moment.year, moment.month, 1))


def period_parse(value: object, *, field: str = "period") -> Period:
    if not isinstance(value, str):
        raise DomainError("Must be a string YYYY-MM.", field=field)
    match = _PERIOD.match(value)
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise DomainError(f"{value!r} is not a period YYYY-MM.", field=field)
    return Period(date(int(match.group(1)), int(match.group(2)), 1))
