"""The sandbox's data store: seeded objects (computed on demand) plus objects created by POST.

List order, for every list, is the API's own and stable under inserts: seeded items first
(events in date order, then a short tail of events with scattered dates), then created items
in creation order. So a client paging forward sees new items at the end and its cursor stays
valid. The ``iter_*`` / ``get_*`` accessors are the ground truth for tests: they return
exactly what the API returns, in API list order, without HTTP.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from typing import Any

from airflow_provider_intervals.sandbox.pagination import ListView
from airflow_provider_intervals.sandbox.seeded import N_GROUPS, REGS_PER_EVENT, RUNS_PER_EVENT, SeededData
from airflow_provider_intervals.sandbox.tables import EVENT_TYPES, RECURRENCE_STATUSES

# Fields of a created event, in the order the API shows them; the last two only in detail.
EVENT_FIELDS = (
    "startTime",
    "address",
    "lat",
    "lng",
    "description",
    "websiteUrl",
    "registrationUrl",
)
DETAIL_FIELDS = ("endDate", "endTime")


def _ordinal(value: str | dt.date | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    return value.toordinal()


class Store:
    """Ground truth for the sandbox: seeded data plus everything created through the API.

    :param events: number of seeded events.
    :param seed: seed of the deterministic data.
    :param start_date: first seeded event date.
    :param days: seeded dates span this many days.
    :param plan: the organisation's plan.
    """

    def __init__(
        self, events: int, seed: int, start_date: dt.date, days: int, plan: str = "enterprise"
    ) -> None:
        self.seeded = SeededData(events, seed, start_date, days)
        self.plan = plan
        self.lock = threading.RLock()
        self._events: list[tuple[str, str, int, int]] = []  # (json, detail json, type index, ordinal)
        self._slugs: set[str] = set()
        self._regs: list[dict[str, Any]] = []
        self._regs_by_event: dict[int, list[int]] = {}

    # -- organisation --

    def organization(self, plan: str | None = None) -> dict[str, Any]:
        """Return the organisation (``plan`` overrides the store's plan, as a key's plan does)."""
        return {
            "_id": self.seeded.org_id,
            "name": "North Shore Race Management",
            "slug": "north-shore-race-mgmt",
            "roles": ["organizer"],
            "plan": plan or self.plan,
        }

    # -- events --

    def event_total(self) -> int:
        """Return the number of events, seeded and created."""
        return self.seeded.n + len(self._events)

    def event_index(self, event_id: object) -> int | None:
        """Return the list position of ``event_id``, or ``None`` if no such event exists."""
        i = self.seeded.event_ids.decode(event_id)
        return i if i is not None and i < self.event_total() else None

    def group_index(self, slug: str) -> int | None:
        """Return the index of the group with ``slug``, or ``None``."""
        for g, grp in enumerate(self.seeded.groups()):
            if grp["slug"] == slug:
                return g
        return None

    def in_group(self, i: int, group: int) -> bool:
        """Return whether event ``i`` belongs to group ``group`` (created events belong to none)."""
        sd = self.seeded
        return i < sd.n and sd.group_index(sd.hash(i)) == group

    def event_view(
        self,
        type_index: int | None = None,
        lo_ord: int | None = None,
        hi_ord: int | None = None,
        group: int | None = None,
    ) -> ListView[str]:
        """Return the events list (as JSON texts) filtered by type, date window and group."""
        sd = self.seeded
        n, n_main, created = sd.n, sd.n_main, self._events
        total = n + len(created)
        dated = lo_ord is not None or hi_ord is not None
        mlo, mhi = sd.main_range(lo_ord, hi_ord) if dated else (0, n_main)
        ranges = [r for r in ((mlo, mhi), (n_main, n), (n, total)) if r[0] < r[1]]
        lo = -1 if lo_ord is None else lo_ord
        hi = 1 << 40 if hi_ord is None else hi_ord

        def match(p: int) -> bool:
            if p >= n:
                _, _, ti, o = created[p - n]
                return group is None and (type_index is None or ti == type_index) and lo <= o <= hi
            h = sd.hash(p)
            if type_index is not None and sd.type_index(h) != type_index:
                return False
            if group is not None and sd.group_index(h) != group:
                return False
            return p < n_main or lo <= sd.date_ord(p, h) <= hi

        def render(p: int) -> str:
            return sd.event_json(p) if p < n else created[p - n][0]

        filtered = dated or type_index is not None or group is not None
        return ListView(ranges, render, match if filtered else None)

    def _view_for(
        self, event_type: str | None, date_from: Any, date_to: Any, group: str | None
    ) -> ListView[str]:
        gi = None
        if group is not None:
            gi = self.group_index(group)
            if gi is None:
                raise KeyError(group)
        ti = None if event_type is None else EVENT_TYPES.index(event_type)
        return self.event_view(ti, _ordinal(date_from), _ordinal(date_to), gi)

    def iter_events(
        self,
        event_type: str | None = None,
        date_from: str | dt.date | None = None,
        date_to: str | dt.date | None = None,
        group: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield events in API list order, filtered as ``GET /events`` filters them.

        :param event_type: one of ``race``, ``runClub``, ``timeTrial``, ``other``.
        :param date_from: inclusive lower date bound.
        :param date_to: inclusive upper date bound.
        :param group: a group slug: the events of ``GET /groups/{slug}/events``.
        """
        view = self._view_for(event_type, date_from, date_to, group)
        for p in view.positions():
            yield json.loads(view.render(p))

    def iter_event_ids(
        self,
        event_type: str | None = None,
        date_from: str | dt.date | None = None,
        date_to: str | dt.date | None = None,
        group: str | None = None,
    ) -> Iterator[str]:
        """Yield the ids of the events :meth:`iter_events` yields, in its order, building no event.

        An event's id encodes its position in the list, seeded or created, so a check of a
        million ids costs their encoding only. The filters are :meth:`iter_events`'s.
        """
        view = self._view_for(event_type, date_from, date_to, group)
        encode = self.seeded.event_ids.encode
        for p in view.positions():
            yield encode(p)

    def count_events(
        self,
        event_type: str | None = None,
        date_from: str | dt.date | None = None,
        date_to: str | dt.date | None = None,
        group: str | None = None,
    ) -> int:
        """Return how many events :meth:`iter_events` would yield with the same filters."""
        view = self._view_for(event_type, date_from, date_to, group)
        if view.match is None:
            return sum(hi - lo for lo, hi in view.ranges)
        return sum(1 for _ in view.positions())

    def get_event(self, event_id: str) -> dict[str, Any] | None:
        """Return ``{"event": ..., "runs": [...]}`` as ``GET /events/{id}`` does, or ``None``."""
        i = self.event_index(event_id)
        if i is None:
            return None
        sd = self.seeded
        if i < sd.n:
            return {"event": sd.event(i, detail=True), "runs": sd.runs(i)}
        return {"event": json.loads(self._events[i - sd.n][1]), "runs": []}

    def event_ids_sample(self, k: int) -> list[str]:
        """Return ``k`` seeded event ids spread evenly over the list."""
        n = self.seeded.n
        k = min(k, n)
        return [self.seeded.event_ids.encode(j * n // k) for j in range(k)]

    def slug_taken(self, slug: str) -> bool:
        """Return whether an event already uses ``slug``."""
        if slug in self._slugs:
            return True
        _, _, suffix = slug.rpartition("-")
        try:
            i = int(suffix, 16)
        except ValueError:
            return False
        return 0 <= i < self.seeded.n and self.seeded.event(i)["slug"] == slug

    def create_event(self, fields: dict[str, Any]) -> str:
        """Append a new event built from validated ``fields``; return its id."""
        with self.lock:
            i = self.event_total()
            eid = self.seeded.event_ids.encode(i)
            item: dict[str, Any] = {
                "_id": eid,
                "name": fields["name"],
                "slug": fields["slug"],
                "type": fields["type"],
                "date": fields["date"],
                "organizationId": self.seeded.org_id,
            }
            item.update((f, fields[f]) for f in EVENT_FIELDS if f in fields)
            detail = dict(item)
            detail.update((f, fields[f]) for f in DETAIL_FIELDS if f in fields)
            ordinal = dt.date.fromisoformat(fields["date"]).toordinal()
            self._events.append(
                (json.dumps(item), json.dumps(detail), EVENT_TYPES.index(fields["type"]), ordinal)
            )
            self._slugs.add(fields["slug"])
            return eid

    # -- runs and registrations --

    def run_event_index(self, run_id: object) -> int | None:
        """Return the index of the event that run ``run_id`` belongs to, or ``None``."""
        code = self.seeded.run_ids.decode(run_id)
        if code is None:
            return None
        i, k = divmod(code, RUNS_PER_EVENT)
        if i >= self.seeded.n or k >= self.seeded.run_count(i):
            return None
        return i

    def registrations(self, i: int) -> list[dict[str, Any]]:
        """Return the registrations of event ``i`` in list order (seeded, then created)."""
        out = self.seeded.registrations(i) if i < self.seeded.n else []
        out.extend(dict(self._regs[m]) for m in self._regs_by_event.get(i, ()))
        return out

    def iter_registrations(self, event_id: str) -> Iterator[dict[str, Any]]:
        """Yield the registrations of an event as ``GET /registration`` lists them."""
        i = self.event_index(event_id)
        if i is None:
            raise KeyError(event_id)
        yield from self.registrations(i)

    def create_registration(self, i: int, fields: dict[str, Any]) -> str:
        """Append a registration to event ``i`` from validated ``fields``; return its id."""
        with self.lock:
            m = len(self._regs)
            rid = self.seeded.reg_ids.encode(self.seeded.n * REGS_PER_EVENT + m)
            reg: dict[str, Any] = {
                "_id": rid,
                "eventId": self.seeded.event_ids.encode(i),
                "eventRunId": fields["eventRunId"],
                "email": fields["email"],
            }
            if "name" in fields:
                reg["name"] = fields["name"]
            reg["registrationType"] = fields["registrationType"]
            reg["registrationStatus"] = fields.get("status", "confirmed")
            if "paceGroup" in fields:
                reg["paceGroup"] = fields["paceGroup"]
            reg["checkedIn"] = False
            self._regs.append(reg)
            self._regs_by_event.setdefault(i, []).append(m)
            return rid

    # -- recurrences and groups --

    def recurrence_view(self, status: str | None = None) -> ListView[dict[str, Any]]:
        """Return the recurrences list, optionally filtered by status."""
        recs = self.seeded.recurrences()
        match = None if status is None else (lambda p: recs[p]["status"] == status)
        return ListView([(0, len(recs))], recs.__getitem__, match)

    def recurrence_index(self, rec_id: object) -> int | None:
        """Return the position of recurrence ``rec_id``, or ``None``."""
        r = self.seeded.recurrence_ids.decode(rec_id)
        return r if r is not None and r < len(self.seeded.recurrences()) else None

    def iter_recurrences(self, status: str | None = None) -> Iterator[dict[str, Any]]:
        """Yield recurrences as ``GET /recurrences`` lists them (``status`` in active|paused|archived)."""
        if status is not None and status not in RECURRENCE_STATUSES:
            raise ValueError(status)
        view = self.recurrence_view(status)
        for p in view.positions():
            yield dict(view.render(p))

    def iter_groups(self) -> Iterator[dict[str, Any]]:
        """Yield groups as ``GET /groups`` lists them."""
        yield from (dict(g) for g in self.seeded.groups())

    def group_position(self, group_id: object) -> int | None:
        """Return the position of group ``group_id``, or ``None``."""
        g = self.seeded.group_ids.decode(group_id)
        return g if g is not None and g < N_GROUPS else None

    def get_group(self, slug: str) -> dict[str, Any] | None:
        """Return the group with ``slug`` as ``GET /groups/{slug}`` does, or ``None``."""
        g = self.group_index(slug)
        return None if g is None else dict(self.seeded.groups()[g])
