"""A sample season plan: what ``intervals_publish_season`` reads, for the demo and tests."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from airflow.sdk import ObjectStoragePath

PLACES = ("Lakefront", "Harbor Park", "Old Mill", "Riverside", "Pine Ridge", "Dune Trail")


def sample_plan(year: int, *, count: int = 12, tag: str = "") -> list[dict[str, Any]]:
    """Return ``count`` events, one Sunday race or Thursday run club a fortnight from April.

    :param year: the season's year.
    :param count: how many events.
    :param tag: appended to every slug, to make a second distinct plan.
    """
    first = dt.date(year, 4, 1)
    sunday = first + dt.timedelta(days=(6 - first.weekday()) % 7)
    events = []
    for i in range(count):
        place = PLACES[i % len(PLACES)]
        race = i % 2 == 0
        day = sunday + dt.timedelta(days=14 * (i // 2) + (0 if race else 4))
        kind = "10K" if race else "Run Club"
        slug = f"{place}-{kind}-{day.isoformat()}{tag}".lower().replace(" ", "-")
        events.append({"name": f"{place} {kind}", "slug": slug, "type": "race" if race else "runClub",
                       "date": day.isoformat(), "startTime": "08:00" if race else "18:30"})  # fmt: skip
    return events


def write_plan(url: str, events: list[dict[str, Any]], conn_id: str | None = None) -> ObjectStoragePath:
    """Write ``events`` as JSON Lines to ``url`` (any object storage URL); return the path."""
    path = ObjectStoragePath(url, conn_id=conn_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path
