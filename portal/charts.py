"""Chart geometry computed on the server; templates/portal/_chart_*.html draws it as inline SVG.

No JavaScript and no external assets: the page is complete when it arrives, prints well, and a PDF
or screenshot of it shows the same thing.
"""

from dataclasses import dataclass, field
from decimal import Decimal

# Axis tops are rounded up to 1, 2, 2.5 or 5 × a power of ten so the gridlines read as round numbers.
_NICE_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))


def nice_ceiling(value: Decimal, ticks: int = 4) -> tuple[Decimal, Decimal]:
    """(top, step) of an axis from 0 that holds `value` in `ticks` round steps."""
    if value <= 0:
        return Decimal(ticks), Decimal(1)
    raw = value / ticks
    magnitude = Decimal(10) ** raw.adjusted()
    for step in _NICE_STEPS:
        if step * magnitude >= raw:
            return step * magnitude * ticks, step * magnitude
    return Decimal(10) * magnitude * ticks, Decimal(10) * magnitude  # pragma: no cover - the loop ends at 10


def _tick_label(value: Decimal) -> str:
    if value >= 1_000_000:
        return f"{(value / 1_000_000).normalize():f}M"
    if value >= 1_000:
        return f"{(value / 1_000).normalize():f}k"
    return f"{value.normalize():f}"


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # a class in base.html: s1, s2, s3
    values: list[Decimal | None]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Category:
    x: float
    label: str


@dataclass
class BarChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    bars: list[Bar] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    categories: list[Category] = field(default_factory=list)
    legend: list[Series] = field(default_factory=list)
    unit: str = ""

    @property
    def is_empty(self) -> bool:
        return not self.bars


def grouped_bar_chart(
    *, categories: list[str], series: list[Series], unit: str = "", width: int = 760, height: int = 280
) -> BarChart:
    """Vertical bars, one group per category (a period), one bar per series (value, billed, cost)."""
    chart = BarChart(
        width,
        height,
        plot_left=64,
        plot_right=width - 16,
        plot_top=16,
        plot_bottom=height - 36,
        legend=series,
        unit=unit,
    )
    values = [v for s in series for v in s.values if v is not None]
    top, step = nice_ceiling(max(values, default=Decimal(0)))
    plot_height = chart.plot_bottom - chart.plot_top
    tick = Decimal(0)
    while tick <= top:
        y = chart.plot_bottom - float(tick / top) * plot_height
        chart.ticks.append(Tick(round(y, 1), _tick_label(tick)))
        tick += step
    if not categories:
        return chart
    slot = (chart.plot_right - chart.plot_left) / len(categories)
    gap = slot * 0.2
    bar_width = min((slot - gap) / max(len(series), 1), 48.0)
    group_width = bar_width * len(series)
    for index, label in enumerate(categories):
        center = chart.plot_left + slot * (index + 0.5)
        chart.categories.append(Category(round(center, 1), label))
        left = center - group_width / 2
        for number, s in enumerate(series):
            value = s.values[index]
            if value is None:
                continue
            height_px = float(max(value, Decimal(0)) / top) * plot_height
            chart.bars.append(
                Bar(
                    x=round(left + number * bar_width, 1),
                    y=round(chart.plot_bottom - height_px, 1),
                    width=round(bar_width - 2, 1),
                    height=round(height_px, 1),
                    css=s.css,
                    title=f"{s.name} {label}: {value:,} {unit}".strip(),
                )
            )
    return chart


@dataclass(frozen=True)
class HBar:
    y: float
    width: float
    label: str
    value: int
    share: Decimal


@dataclass
class HBarChart:
    width: int
    height: int
    label_width: int
    bar_height: int
    rows: list[HBar]


def horizontal_bar_chart(*, items: list[tuple[str, int]], width: int = 440) -> HBarChart:
    """One bar per outcome type, longest first, with its count and share of the total."""
    label_width, bar_height, row = 180, 22, 32
    total = sum(count for _, count in items)
    biggest = max((count for _, count in items), default=0)
    plot = width - label_width - 100
    rows = [
        HBar(
            y=index * row + 4,
            width=round(plot * count / biggest, 1) if biggest else 0.0,
            label=label,
            value=count,
            share=(Decimal(count) / total) if total else Decimal(0),
        )
        for index, (label, count) in enumerate(sorted(items, key=lambda item: (-item[1], item[0])))
    ]
    return HBarChart(width, max(len(rows) * row + 8, row), label_width, bar_height, rows)
