from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_intervals.sandbox import Sandbox


class Client:
    """A thin requests wrapper: base URL and bearer key, nothing clever."""

    def __init__(self, sb: Sandbox, key: str | None = None) -> None:
        self.base = sb.url
        self.session = requests.Session()
        if key is not None:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.base + path, params=params, timeout=10)

    def post(self, path: str, body: Any, idem: str | None = None) -> requests.Response:
        headers = {"Idempotency-Key": idem} if idem else {}
        return self.session.post(self.base + path, json=body, headers=headers, timeout=10)

    def page_all(self, path: str, limit: int = 7, **params: Any) -> list[dict[str, Any]]:
        """Forward paging the way a client must: hasMore if present, else a short page ends it."""
        items: list[dict[str, Any]] = []
        after = None
        while True:
            extra = {"after": after} if after else {}
            r = self.get(path, limit=limit, **params, **extra)
            assert r.status_code == 200, r.text
            body = r.json()
            items.extend(body["data"])
            more = body["hasMore"] if "hasMore" in body else len(body["data"]) == limit
            if not more or not body["data"]:
                return items
            after = body["data"][-1]["_id"]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(events=120, seed=7, rate_limits=False) as sb:
        yield sb


@pytest.fixture
def api(sandbox: Sandbox) -> Client:
    return Client(sandbox, sandbox.api_key)
