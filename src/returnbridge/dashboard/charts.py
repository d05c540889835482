"""Charts as plain SVG geometry, computed here and drawn by the templates (no script, no
library): stacked bars of returns per day by status, bars of refunds per currency, and the
distribution of time from received to refunded."""

from __future__ import annotations

from dataclasses import dataclass

from returnbridge.dashboard.queries import DURATION_BUCKETS, Figures
from returnbridge.domain.money import format_minor

STATUS_ORDER = ("completed", "needs_review", "failed", "cancelled", "in progress")
WIDTH, HEIGHT = 640, 180


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    bars: list[Bar]
    labels: list[tuple[float, str]]
    """(x of the label's centre, text) under the bars."""
    legend: list[tuple[str, str]]
    """(css class, text)."""
    empty: bool
    summary: str
    """The chart in words, for screen readers and for tests."""


def _group(status: str) -> str:
    return status if status in STATUS_ORDER else "in progress"


def returns_per_day(figures: Figures) -> Chart:
    days = figures.days
    totals = {d: sum(figures.per_day[d].values()) for d in days}
    peak = max(totals.values(), default=0) or 1
    slot = WIDTH / max(len(days), 1)
    bars: list[Bar] = []
    for index, day in enumerate(days):
        grouped: dict[str, int] = {}
        for status, count in figures.per_day[day].items():
            grouped[_group(status)] = grouped.get(_group(status), 0) + count
        bottom = float(HEIGHT)
        for status in STATUS_ORDER:
            count = grouped.get(status, 0)
            if not count:
                continue
            height = HEIGHT * count / peak
            bottom -= height
            bars.append(
                Bar(
                    x=index * slot + slot * 0.15,
                    y=bottom,
                    width=slot * 0.7,
                    height=height,
                    css=f"s-{status.replace(' ', '-').replace('_', '-')}",
                    title=f"{day}: {count} {status}",
                )
            )
    labels = [(i * slot + slot / 2, d[5:]) for i, d in enumerate(days) if i % 2 == 0]
    legend = [
        (f"s-{s.replace(' ', '-').replace('_', '-')}", s.replace("_", " ")) for s in STATUS_ORDER
    ]
    count = sum(totals.values())
    return Chart(
        title="Returns per day, by status now",
        bars=bars,
        labels=labels,
        legend=legend,
        empty=count == 0,
        summary=f"{count} returns in the last {len(days)} days",
    )


def refunds_per_currency(figures: Figures) -> list[Chart]:
    """One chart per currency (amounts in different currencies do not add up): refunded per
    day, in that currency."""
    charts: list[Chart] = []
    slot = WIDTH / max(len(figures.days), 1)
    for currency, per_day in sorted(figures.refunded.items()):
        peak = max(per_day.values(), default=0) or 1
        bars = [
            Bar(
                x=i * slot + slot * 0.15,
                y=HEIGHT - HEIGHT * per_day[day] / peak,
                width=slot * 0.7,
                height=HEIGHT * per_day[day] / peak,
                css="s-refund",
                title=f"{day}: {format_minor(per_day[day], currency)} {currency}",
            )
            for i, day in enumerate(figures.days)
            if per_day[day]
        ]
        total = sum(per_day.values())
        charts.append(
            Chart(
                title=f"Refunded per day, {currency}",
                bars=bars,
                labels=[
                    (i * slot + slot / 2, d[5:]) for i, d in enumerate(figures.days) if i % 2 == 0
                ],
                legend=[],
                empty=total == 0,
                summary=f"{format_minor(total, currency)} {currency} refunded in "
                f"{len(figures.days)} days",
            )
        )
    return charts


def time_to_refund(figures: Figures) -> Chart:
    counts = [figures.to_refund.get(bucket, 0) for bucket in DURATION_BUCKETS]
    peak = max(counts, default=0) or 1
    slot = WIDTH / len(DURATION_BUCKETS)
    bars = [
        Bar(
            x=i * slot + slot * 0.15,
            y=HEIGHT - HEIGHT * n / peak,
            width=slot * 0.7,
            height=HEIGHT * n / peak,
            css="s-duration",
            title=f"{bucket}: {n} returns",
        )
        for i, (bucket, n) in enumerate(zip(DURATION_BUCKETS, counts, strict=True))
        if n
    ]
    labels = [(i * slot + slot / 2, bucket) for i, bucket in enumerate(DURATION_BUCKETS)]
    return Chart(
        title="Time from received to refunded",
        bars=bars,
        labels=labels,
        legend=[],
        empty=sum(counts) == 0,
        summary=f"{sum(counts)} refunded returns",
    )
