"""The seeded part of the sandbox's data: pure functions of ``(seed, index)``.

Event ``i`` is built from two splitmix64 hashes of ``(seed, i)``; nothing is stored, so
memory is O(1) in the number of events. The first ``n_main`` events are in date order
(``date = start + i * days // n_main``), so a date window is an index range found by
bisection; the last ``n_tail`` events carry random dates, so a client that assumes
date order gets caught. Run and registration ids encode ``(event index, k)``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
from typing import Any

from airflow_provider_intervals.sandbox import tables as t
from airflow_provider_intervals.sandbox.ids import MASK64, IdCodec, splitmix64

RUNS_PER_EVENT = 4  # id space per event; an event has 1..3 runs
REGS_PER_EVENT = 32  # id space per event; an event has 0..30 seeded registrations
N_GROUPS = len(t.GROUPS)
# Flat, pre-rendered tables for the hot path (event_json): lookups, not attribute chains.
_TYPE_BY_BYTE = t.TYPE_BY_BYTE
_TYPE_NAMES = t.EVENT_TYPES
_KINDS = t.KINDS
_PLACES = t.PLACES
_N_PLACES = len(t.PLACES)
_N_CITIES = len(t.CITIES)
_STREETS = t.STREETS
_N_STREETS = len(t.STREETS)
_START_TIMES = t.START_TIMES
_CITY_JSON = tuple((f'"city":"{c[0]}","region":"{c[1]}","postalCode":"{c[2]}',) for c in t.CITIES)
_SLUGS = tuple(tuple(tuple(f"{ps}-{k[1]}" for ps in t.PLACE_SLUGS) for k in kinds) for kinds in t.KINDS)
_DESCRIPTIONS = tuple(
    tuple(tuple(',"description":' + json.dumps(k[3].format(p=p)) for p in t.PLACES) for k in kinds)
    for kinds in t.KINDS
)
# Coordinates: the city centre plus one of 256 precomputed offsets (round() is slow).
_OFFSETS = tuple(round(b / 1275.0 - 0.1, 6) for b in range(256))
_COORDS = tuple(
    (tuple(repr(round(c[3] + o, 6)) for o in _OFFSETS), tuple(repr(round(c[4] + o, 6)) for o in _OFFSETS))
    for c in t.CITIES
)


class SeededData:
    """Deterministic, lazily computed events, runs, registrations, recurrences and groups.

    :param events: number of seeded events.
    :param seed: the seed; equal seeds give equal data.
    :param start_date: first event date.
    :param days: events spread over ``start_date`` .. ``start_date + days - 1``.
    """

    def __init__(self, events: int, seed: int, start_date: dt.date, days: int) -> None:
        if events < 0 or days < 1:
            raise ValueError("events must be >= 0 and days >= 1")
        self.n = events
        self.n_tail = min(500, events // 20)
        self.n_main = events - self.n_tail
        self.days = days
        self.start_ord = start_date.toordinal()
        self._base = splitmix64(seed ^ 0x5EED5EED)
        self.event_ids = IdCodec("e", seed, 1)
        self.run_ids = IdCodec("r", seed, 2)
        self.reg_ids = IdCodec("p", seed, 3)
        self.recurrence_ids = IdCodec("c", seed, 4)
        self.group_ids = IdCodec("g", seed, 5)
        self.course_ids = IdCodec("m", seed, 6)
        self.image_ids = IdCodec("i", seed, 7)
        self.org_id = IdCodec("k", seed, 8).encode(0)
        self._dates: dict[int, tuple[str, str, str]] = {}
        self._recurrences: list[dict[str, Any]] | None = None
        self._groups: list[dict[str, Any]] | None = None

    # -- cheap per-event attributes (used to filter without building the event) --

    def hash(self, i: int) -> int:
        """Return the primary hash of event ``i``."""
        return splitmix64((self._base + i) & MASK64)

    @staticmethod
    def type_index(h: int) -> int:
        """Return the index into ``EVENT_TYPES`` of the event with hash ``h``."""
        return t.TYPE_BY_BYTE[h & 0xFF]

    @staticmethod
    def group_index(h: int) -> int:
        """Return the group index (``N_GROUPS`` or more means no group) of hash ``h``."""
        return ((h >> 8) & 0xFF) % (N_GROUPS + 2)

    def date_ord(self, i: int, h: int) -> int:
        """Return the proleptic ordinal of event ``i``'s date."""
        if i < self.n_main:
            return self.start_ord + i * self.days // self.n_main
        return self.start_ord + (h >> 32) % self.days

    def main_range(self, lo_ord: int | None, hi_ord: int | None) -> tuple[int, int]:
        """Return the index range of date-ordered events dated within ``[lo_ord, hi_ord]``."""
        n, days, start = self.n_main, self.days, self.start_ord

        def key(i: int) -> int:
            return start + i * days // n

        lo = 0 if lo_ord is None else bisect.bisect_left(range(n), lo_ord, key=key)
        hi = n if hi_ord is None else bisect.bisect_right(range(n), hi_ord, key=key)
        return lo, max(lo, hi)

    def _date(self, o: int) -> tuple[str, str, str]:
        got = self._dates.get(o)
        if got is None:
            d = dt.date.fromordinal(o)
            month = t.MONTHS[d.month - 1]
            got = (d.isoformat(), f"{month} {d.day}", f"{month.lower()}-{d.day}")
            self._dates[o] = got
        return got

    # -- full objects --

    def event_json(self, i: int, detail: bool = False) -> str:
        """Return seeded event ``i`` as JSON text, exactly as the list endpoint shows it.

        Built as text, not as a dict for ``json.dumps``: that halves the cost of a page,
        and every string here comes from fixed ASCII tables that need no escaping.

        :param i: the event index.
        :param detail: add the fields only ``GET /events/{id}`` shows (``endTime``).
        """
        h = splitmix64((self._base + i) & MASK64)
        ti = _TYPE_BY_BYTE[h & 0xFF]
        place_i = (h >> 16) % _N_PLACES
        kinds = _KINDS[ti]
        ki = (h >> 24) % len(kinds)
        kind = kinds[ki]
        o = self.start_ord + (i * self.days // self.n_main if i < self.n_main else (h >> 32) % self.days)
        iso, month_day, md_slug = self._dates.get(o) or self._date(o)
        place = _PLACES[place_i]
        eid = self.event_ids.encode(i)
        times = _START_TIMES[ti]
        start = times[(h >> 44) % len(times)]
        flags = h >> 52
        extra = ""
        if flags & 0x1F:  # about 3% are virtual: no address or coordinates
            h2 = splitmix64(h)
            ci = (h >> 40) % _N_CITIES
            city = _CITY_JSON[ci]
            lats, lngs = _COORDS[ci]
            extra = (
                f',"address":{{"line1":"{100 + h2 % 9800} {_STREETS[(h2 >> 16) % _N_STREETS]}",'
                f'{city[0]}{(h2 >> 24) % 100:02d}","country":"US"}},'
                f'"lat":{lats[(h2 >> 32) & 0xFF]},"lng":{lngs[(h2 >> 48) & 0xFF]}'
            )
        if (flags >> 5) & 7:
            extra += _DESCRIPTIONS[ti][ki][place_i]
        pk = _SLUGS[ti][ki][place_i]
        extra += f',"websiteUrl":"https://northshorerace.com/{pk}"'
        if ti != 1 and (flags >> 8) & 3:
            extra += f',"registrationUrl":"https://intervals.run/register/{eid}"'
        if detail and ti == 1:
            extra += f',"endTime":"{(int(start[:2]) + 1) % 24:02d}{start[2:]}"'
        return (
            f'{{"_id":"{eid}","name":"{place} {kind[0]} - {month_day}","slug":"{pk}-{md_slug}-{i:x}",'
            f'"type":"{_TYPE_NAMES[ti]}","date":"{iso}","organizationId":"{self.org_id}",'
            f'"startTime":"{start}"{extra}}}'
        )

    def event(self, i: int, detail: bool = False) -> dict[str, Any]:
        """Return seeded event ``i`` as a dict (see :meth:`event_json`)."""
        return json.loads(self.event_json(i, detail))

    def run_count(self, i: int) -> int:
        """Return how many runs event ``i`` has (1..3)."""
        return 1 + (splitmix64(self.hash(i) ^ 0xA5A5) % 3)

    def runs(self, i: int) -> list[dict[str, Any]]:
        """Return the runs of seeded event ``i``."""
        h = self.hash(i)
        ti = t.TYPE_BY_BYTE[h & 0xFF]
        kinds = t.KINDS[ti]
        kind = kinds[(h >> 24) % len(kinds)]
        o = self.date_ord(i, h)
        iso = self._date(o)[0]
        opens = dt.date.fromordinal(o - 90).isoformat()
        closes = dt.date.fromordinal(o - 2).isoformat()
        times = t.START_TIMES[ti]
        start = times[(h >> 44) % len(times)]
        eid = self.event_ids.encode(i)
        out = []
        for k in range(self.run_count(i)):
            r = splitmix64(h + k + 1)
            std = kind[2] if k == 0 else t.RUN_CHOICES[r % len(t.RUN_CHOICES)]
            metres, label = t.DISTANCES[std]
            run: dict[str, Any] = {
                "_id": self.run_ids.encode(i * RUNS_PER_EVENT + k),
                "eventId": eid,
                "distanceMeters": metres,
                "distanceStandard": std,
                "distanceLabel": label if k == 0 else f"{label} (wave {k + 1})",
                "date": iso,
                "startTime": start,
                "eventStatus": t.EVENT_STATUSES[0] if (r >> 8) % 10 else t.EVENT_STATUSES[(r >> 12) % 4],
                "registrationOpensAt": f"{opens}T09:00:00-05:00",
                "registrationClosesAt": f"{closes}T23:59:00-05:00",
                "soldOut": (r >> 16) % 10 == 0,
                "maxParticipants": 100 * (1 + (r >> 20) % 20),
                "isVirtual": (h >> 52) & 0x1F == 0,
                "isRelay": (r >> 28) % 25 == 0,
                "isWalking": std == "Other",
            }
            if ti != 1:
                run["registrationUrl"] = f"https://intervals.run/register/{eid}/{run['_id']}"
            if (r >> 32) % 40 == 0:
                run["registrationOverride"] = "paused" if (r >> 40) & 1 else "closed"
            out.append(run)
        return out

    def registration_count(self, i: int) -> int:
        """Return how many seeded registrations event ``i`` has (0..30)."""
        return splitmix64(self.hash(i) ^ 0x5A5A) % 31

    def registrations(self, i: int) -> list[dict[str, Any]]:
        """Return the seeded registrations of event ``i``, in list order."""
        h = self.hash(i)
        ti = t.TYPE_BY_BYTE[h & 0xFF]
        eid = self.event_ids.encode(i)
        n_runs = self.run_count(i)
        out = []
        for j in range(self.registration_count(i)):
            r = splitmix64(h ^ (j + 1) * 0x9E3779B97F4A7C15 & MASK64)
            first = t.FIRST_NAMES[r % len(t.FIRST_NAMES)]
            last = t.LAST_NAMES[(r >> 8) % len(t.LAST_NAMES)]
            k = (r >> 16) % n_runs
            status = (r >> 20) % 100
            reg: dict[str, Any] = {
                "_id": self.reg_ids.encode(i * REGS_PER_EVENT + j),
                "eventId": eid,
                "eventRunId": self.run_ids.encode(i * RUNS_PER_EVENT + k),
                "email": f"{first}.{last}{(r >> 28) % 1000}@{t.EMAIL_DOMAINS[(r >> 40) % 4]}".lower(),
                "name": f"{first} {last}",
                "registrationType": "free" if ti in (1, 3) else "paid",
                "registrationStatus": t.REGISTRATION_STATUSES[
                    0 if status < 80 else 2 if status < 88 else 1 if status < 95 else 3
                ],
            }
            if (r >> 44) % 3:
                reg["paceGroup"] = t.PACE_GROUPS[(r >> 46) % len(t.PACE_GROUPS)]
            if ti in (0, 2):
                reg["bibIdentifier"] = str(1000 + j)
            reg["checkedIn"] = bool((r >> 50) & 1)
            out.append(reg)
        return out

    def recurrences(self) -> list[dict[str, Any]]:
        """Return the seeded recurrences (about events/20, at most 1,000), in list order."""
        if self._recurrences is None:
            count = min(1000, max(1, self.n // 20)) if self.n else 0
            out = []
            for r in range(count):
                h = splitmix64(self._base ^ (r + 1) * 0xC2B2AE3D27D4EB4F & MASK64)
                i = (h >> 8) % self.n
                st = h % 10
                rec: dict[str, Any] = {
                    "_id": self.recurrence_ids.encode(r),
                    "eventId": self.event_ids.encode(i),
                    "label": t.RECURRENCE_LABELS[(h >> 40) % len(t.RECURRENCE_LABELS)],
                    "schedule": {
                        "frequency": "weekly" if (h >> 44) % 4 else "biweekly",
                        "daysOfWeek": [(h >> 46) % 7],
                        "startTime": t.START_TIMES[1][(h >> 50) % 5],
                        "durationMinutes": 30 * (1 + (h >> 53) % 4),
                    },
                    "status": t.RECURRENCE_STATUSES[0 if st < 7 else 1 if st < 9 else 2],
                }
                if (h >> 56) % 2:
                    rec["defaultCourseId"] = self.course_ids.encode(r)
                if (h >> 57) % 4:
                    rec["autoPublishHorizonWeeks"] = 4 + (h >> 58) % 9
                out.append(rec)
            self._recurrences = out
        return self._recurrences

    def groups(self) -> list[dict[str, Any]]:
        """Return the ten seeded groups, in list order."""
        if self._groups is None:
            out = []
            for g, (name, desc) in enumerate(t.GROUPS):
                grp: dict[str, Any] = {
                    "_id": self.group_ids.encode(g),
                    "organizationId": self.org_id,
                    "name": name,
                    "slug": name.lower().replace(" ", "-"),
                    "description": desc,
                    "status": t.GROUP_STATUSES[1 if g == 7 else 2 if g == 9 else 0],
                }
                if g % 3 != 2:
                    grp["cardImageId"] = self.image_ids.encode(2 * g)
                    grp["coverImageId"] = self.image_ids.encode(2 * g + 1)
                out.append(grp)
            self._groups = out
        return self._groups
