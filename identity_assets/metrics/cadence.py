"""When the value model is fitted: a day that follows from the data, so a warehouse built day by
day, one that skipped runs and a fresh build fit on the same day (decision 0019).

A model may first be fitted on the first midnight at which the purchase history is long enough
and there are enough repeat buyers (the checks the stage applies at `as_of`, so they agree).
From then on it is refitted on a fixed grid of `refit_days` days (Mondays for 7, counted from
0001-01-01), and sooner on the first midnight at which the buyers grew by `refit_new_buyers`
since the last fit day. Between fit days, the stored parameters predict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from identity_assets.metrics.rules import ValueRules


@dataclass(frozen=True)
class Cadence:
    """The fit day for `as_of`, why it is one, and the buyers on it and at `as_of`."""

    fit_day: datetime
    why: str
    buyers_then: int
    buyers_now: int

    @property
    def new_buyers(self) -> float:
        """Buyers at `as_of` over buyers on the fit day, minus one."""
        return self.buyers_now / self.buyers_then - 1 if self.buyers_then else 0.0


def fit_day(buyers: Mapping[str, np.ndarray], rules: ValueRules, as_of: datetime) -> Cadence:
    """The last fit day at or before `as_of` (a midnight), from the buyers' `first_day` and
    `second_day` at `as_of` (their features: metrics/buyer_features.sql). The caller has checked
    that a model may be fitted at `as_of`: the history is long enough and there are enough
    repeat buyers."""
    first = np.asarray(buyers["first_day"], dtype=np.int64)
    second = np.sort(np.asarray(buyers["second_day"], dtype=np.int64))
    second = second[second >= 0]
    end = as_of.date().toordinal()

    needed = rules.min_history_multiple * rules.horizon_days
    possible = int(first.min()) + max(math.ceil(needed), 0)
    if rules.min_repeat_buyers > 0:
        # a buyer has repeated at midnight d when its second purchase day is before d
        possible = max(possible, int(second[rules.min_repeat_buyers - 1]) + 1)
    possible = min(possible, end)
    grid = end - (end - 1) % rules.refit_days
    day, why = possible, "the first day a model may be fitted"
    if grid > possible:
        day, why = grid, f"every {rules.refit_days} day{'' if rules.refit_days == 1 else 's'}"
    for later in range(day + 1, end + 1):
        grown = _buyers(first, later) / _buyers(first, day) - 1
        if grown >= rules.refit_new_buyers:
            since = _datetime(day)
            day, why = later, f"{grown:.0%} new buyers since {since:%Y-%m-%d}"
    return Cadence(_datetime(day), why, _buyers(first, day), _buyers(first, end))


def _buyers(first: np.ndarray, day: int) -> int:
    """Buyers with a good purchase before midnight `day`."""
    return int((first < day).sum())


def _datetime(day: int) -> datetime:
    return datetime.combine(date.fromordinal(day), datetime.min.time())
