"""Exact allocation of integer minor units (refund-math §3.2, §3.3, §3.6).

Nothing here rounds: every split hands out exactly the amount it was given, so the parts always
sum back to the whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` over `weights` by the largest-remainder method (refund-math §3.2).

    Each part gets the floor of its exact share `total · w_i / Σw`; the leftover units go one
    each to the parts with the largest fractional remainder, ties to the earlier part.
    """
    if total < 0:
        raise ValueError(f"cannot allocate a negative total ({total})")
    if any(weight < 0 for weight in weights):
        raise ValueError("allocation weights must be >= 0")
    weight_sum = sum(weights)
    if weight_sum == 0:
        if total == 0:
            return [0] * len(weights)
        raise ValueError(f"cannot allocate {total} over weights that sum to zero")
    floors: list[int] = []
    remainders: list[int] = []
    for weight in weights:
        whole, rest = divmod(total * weight, weight_sum)
        floors.append(whole)
        remainders.append(rest)
    leftover = total - sum(floors)
    # Largest fractional part first; Python's sort is stable, so ties keep the earlier index.
    ranked = sorted(range(len(weights)), key=lambda index: -remainders[index])
    for index in ranked[:leftover]:
        floors[index] += 1
    return floors


@dataclass(frozen=True, slots=True)
class UnitSplit:
    """A component C spread over N units: units 1..r carry base + 1, the rest base (§3.3)."""

    component: int
    units: int

    def __post_init__(self) -> None:
        if self.units < 1:
            raise ValueError(f"a line needs at least one unit, got {self.units}")
        if self.component < 0:
            raise ValueError(f"a split component must be >= 0, got {self.component}")

    @property
    def base(self) -> int:
        return self.component // self.units

    @property
    def extra(self) -> int:
        """r: how many leading units carry one more minor unit than the others."""
        return self.component % self.units

    def carried(self, units: int) -> int:
        """S(m): the value carried by units 1..m."""
        if not 0 <= units <= self.units:
            raise ValueError(f"m must be within 0..{self.units}, got {units}")
        return units * self.base + min(units, self.extra)

    def share(self, *, already: int, quantity: int) -> int:
        """Refund share of `quantity` units after `already` were refunded: S(k+q) − S(k)."""
        return self.carried(already + quantity) - self.carried(already)

    def remaining(self, *, already: int) -> int:
        """Everything not yet refunded after `already` units: C − S(k)."""
        return self.component - self.carried(already)


__all__ = ["UnitSplit", "largest_remainder"]
