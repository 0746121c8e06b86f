"""The endpoints: path matching, and each endpoint's answer once auth and scope have passed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from airflow_provider_intervals.sandbox import validation as v
from airflow_provider_intervals.sandbox.pagination import ListView
from airflow_provider_intervals.sandbox.replies import Reply, Stats, error, ok
from airflow_provider_intervals.sandbox.store import Store
from airflow_provider_intervals.sandbox.tables import EVENT_TYPES, RECURRENCE_STATUSES

Handler = Callable[..., Reply]
Methods = dict[str, tuple[str, Handler]]


class Routes:
    """Map paths to endpoints and answer them.

    :param store: the data the endpoints serve and create.
    :type store: ~airflow_provider_intervals.sandbox.store.Store
    :param stats: counters to bump (pages served, objects created).
    :param has_more: include ``hasMore`` in list responses (an attribute: the sandbox flips it).
    """

    def __init__(self, store: Store, stats: Stats, has_more: bool = True) -> None:
        self.store = store
        self.stats = stats
        self.has_more = has_more

    def match(self, seg: list[str]) -> tuple[Methods, list[str]] | None:
        """Return the methods served at path ``seg`` (split on ``/``) and the path arguments."""
        n = len(seg)
        if n == 1 and seg[0] == "organization":
            return {"GET": ("read:series", self.get_organization)}, []
        if seg[0] == "events" and n == 1:
            return {"GET": ("read:events", self.list_events), "POST": ("write:events", self.create_event)}, []
        if seg[0] == "events" and n == 2 and seg[1]:
            return {"GET": ("read:events", self.get_event)}, seg[1:]
        if n == 1 and seg[0] == "registration":
            return {
                "GET": ("read:participants", self.list_registrations),
                "POST": ("write:participants", self.create_registration),
            }, []
        if n == 1 and seg[0] == "recurrences":
            return {"GET": ("read:recurrences", self.list_recurrences)}, []
        group_path = n == 1 or (n == 2 and seg[1]) or (n == 3 and seg[1] and seg[2] == "events")
        if seg[0] == "groups" and group_path:
            handler = (self.list_groups, self.get_group, self.list_group_events)[n - 1]
            return {"GET": ("read:groups", handler)}, seg[1:2]
        return None

    # -- helpers --

    def _invalid(self, errors: v.Errors) -> Reply:
        return error(422, "VALIDATION_ERROR", "The request is invalid", errors=errors)

    def _page(
        self,
        view: ListView[Any],
        limit: int,
        cursors: tuple[str | None, str | None],
        resolve: Callable[[str], int | None],
        as_json: bool = False,
    ) -> Reply:
        """Resolve the cursors in this list, then answer one page."""
        errors: v.Errors = {}
        positions = []
        for name, value in zip(("after", "before"), cursors, strict=True):
            pos = None if value is None else resolve(value)
            if value is not None and pos is None:
                errors[name] = [f"{name} is not the id of an item in this list"]
            positions.append(pos)
        if errors:
            return self._invalid(errors)
        items, more = view.page(limit, positions[0], positions[1])
        data = "[" + ",".join(items) + "]" if as_json else json.dumps(items)
        tail = (',"hasMore":true}' if more else ',"hasMore":false}') if self.has_more else "}"
        self.stats.bump("pages_served")
        if not more:  # a listing's last page: what a watcher lists from here on is newer
            self.stats.bump("listings_ended")
        return Reply(200, ('{"data":' + data + tail).encode())

    # -- endpoints --

    def get_organization(self, args: list[str], qs: str, info: Any) -> Reply:
        """``GET /organization``."""
        return ok(self.store.organization(info.plan))

    def _event_list(self, qs: str, group_slug: str | None) -> Reply:
        query = parse_qs(qs, keep_blank_values=True)
        errors: v.Errors = {}
        limit, after, before = v.parse_page(query, errors)
        event_type, lo, hi = v.parse_event_filters(query, errors)
        if errors:
            return self._invalid(errors)
        store = self.store
        group = None
        if group_slug is not None:
            group = store.group_index(group_slug)
            if group is None:
                return error(404, "NOT_FOUND", "Group not found")
        ti = None if event_type is None else EVENT_TYPES.index(event_type)
        view = store.event_view(ti, lo, hi, group)

        def resolve(cursor: str) -> int | None:
            i = store.event_index(cursor)
            return i if i is None or group is None or store.in_group(i, group) else None

        return self._page(view, limit, (after, before), resolve, as_json=True)

    def list_events(self, args: list[str], qs: str, info: Any) -> Reply:
        """``GET /events``."""
        return self._event_list(qs, None)

    def list_group_events(self, args: list[str], qs: str, info: Any) -> Reply:
        """``GET /groups/{slug}/events``: the group's events, same filters as ``GET /events``."""
        return self._event_list(qs, args[0])

    def get_event(self, args: list[str], qs: str, info: Any) -> Reply:
        """``GET /events/{id}``."""
        found = self.store.get_event(args[0])
        if found is None:
            return error(404, "NOT_FOUND", "Event not found")
        return ok(found)

    def create_event(self, body: dict[str, Any]) -> Reply:
        """``POST /events``."""
        fields, errors = v.validate_event(body)
        if errors:
            return self._invalid(errors)
        store = self.store
        with store.lock:
            if store.slug_taken(fields["slug"]):
                return error(409, "CONFLICT", f"An event with slug {fields['slug']} already exists")
            event_id = store.create_event(fields)
        self.stats.bump("events_created")
        return ok({"eventId": event_id}, 201)

    def list_registrations(self, args: list[str], qs: str, info: Any) -> Reply:
        """``GET /registration?eventId=...``."""
        query = parse_qs(qs, keep_blank_values=True)
        errors: v.Errors = {}
        limit, after, before = v.parse_page(query, errors)
        event_id = (query.get("eventId") or [""])[0]
        if not event_id:
            errors["eventId"] = ["eventId is required"]
        if errors:
            return self._invalid(errors)
        store = self.store
        i = store.event_index(event_id)
        if i is None:
            return error(404, "NOT_FOUND", "Event not found")
        regs = store.registrations(i)
        where = {r["_id"]: p for p, r in enumerate(regs)}
        return self._page(ListView([(0, len(regs))], regs.__getitem__), limit, (after, before), where.get)

    def create_registration(self, body: dict[str, Any]) -> Reply:
        """``POST /registration``."""
        fields, errors = v.validate_registration(body)
        if errors:
            return self._invalid(errors)
        store = self.store
        i = store.run_event_index(fields["eventRunId"])
        if i is None:
            return error(404, "NOT_FOUND", "Event run not found")
        participant_id = store.create_registration(i, fields)
        self.stats.bump("registrations_created")
        return ok({"participantId": participant_id}, 201)

    def list_recurrences(self, args: list[str], qs: str, info: Any) -> Reply:
        """``GET /recurrences``."""
        query = parse_qs(qs, keep_blank_values=True)
        errors: v.Errors = {}
        limit, after, before = v.parse_page(query, errors)
        status = v.parse_enum(query, "status", RECURRENCE_STATUSES, errors)
        if errors:
            return self._invalid(errors)
        store = self.store
        return self._page(store.recurrence_view(status), limit, (after, before), store.recurrence_index)

    def list_groups(self, args: list[str], qs: str, info: Any) -> Reply:
        """``GET /groups``."""
        query = parse_qs(qs, keep_blank_values=True)
        errors: v.Errors = {}
        limit, after, before = v.parse_page(query, errors)
        if errors:
            return self._invalid(errors)
        store = self.store
        groups = store.seeded.groups()
        view = ListView([(0, len(groups))], groups.__getitem__)
        return self._page(view, limit, (after, before), store.group_position)

    def get_group(self, args: list[str], qs: str, info: Any) -> Reply:
        """``GET /groups/{slug}``."""
        group = self.store.get_group(args[0])
        if group is None:
            return error(404, "NOT_FOUND", "Group not found")
        return ok(group)
