from decimal import Decimal

from portal.charts import Series, grouped_bar_chart, horizontal_bar_chart, nice_ceiling


def test_axis_tops_are_round_numbers() -> None:
    assert nice_ceiling(Decimal("87")) == (Decimal("100"), Decimal("25"))
    assert nice_ceiling(Decimal("1234.5")) == (Decimal("2000"), Decimal("500"))
    assert nice_ceiling(Decimal("0")) == (Decimal(4), Decimal(1))


def test_bars_fit_the_plot_and_scale_to_the_largest_value() -> None:
    chart = grouped_bar_chart(
        categories=["2026-09", "2026-10"],
        series=[
            Series("Value", "s1", [Decimal(100), Decimal(50)]),
            Series("Billed", "s2", [Decimal(20), None]),
        ],
    )
    assert len(chart.bars) == 3  # a missing value draws no bar
    tallest = max(chart.bars, key=lambda bar: bar.height)
    assert tallest.y == chart.plot_top and tallest.y + tallest.height == chart.plot_bottom
    assert all(chart.plot_left <= bar.x and bar.x + bar.width <= chart.plot_right for bar in chart.bars)


def test_outcome_bars_are_sorted_with_shares() -> None:
    chart = horizontal_bar_chart(items=[("b", 1), ("a", 3)])
    assert [(row.label, row.value, row.share) for row in chart.rows] == [
        ("a", 3, Decimal("0.75")),
        ("b", 1, Decimal("0.25")),
    ]
