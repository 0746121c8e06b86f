#!/usr/bin/env python3
"""Peer benchmark: this provider's operator vs a bare loop vs HttpOperator vs dlt, in one run.

    .venv/bin/python bench/bench_peers.py                       # 100,000 events
    .venv/bin/python bench/bench_peers.py --sizes 100000,1000000

Reuses ``bench_landing.py``'s machinery (sandbox process, fresh child process per contender,
RSS and socket sampling, the same gzip JSON Lines writing) and adds:

- ``dlt``: dlt's REST API source (``dlt.sources.rest_api``) paging ``GET /events`` with a
  paginator that follows the API's rule (``after`` = the last item's ``_id`` while
  ``hasMore``), loaded into dlt's ``filesystem`` destination as jsonl. Needs
  ``dlt[filesystem]``; without it the contender is skipped with a message.
- requests per event landed, from the sandbox's own counters (``/_sandbox/stats``), for
  every contender.

Ratios are against ``bare-loop``. Events/s is wall time of the whole pull-and-write (for dlt:
extract, normalize and load), memory is peak RSS added over the child's post-import baseline.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_landing as bl

CONTENDERS = ("operator", "bare-loop", "http-operator", "dlt")
DLT_REQUIREMENT = "dlt[filesystem]>=1.0"


def dlt_available() -> bool:
    """Whether dlt can be imported (it is not a dependency of the provider)."""
    import importlib.util

    return importlib.util.find_spec("dlt") is not None


def _prepare_dlt(url: str, key: str, out: Path):
    """Build a dlt pipeline (REST API source -> filesystem destination, jsonl); return the pull."""
    os.environ["DLT_DATA_DIR"] = str(out / "dlt-data")
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    import dlt
    from dlt.sources.helpers.rest_client.paginators import BasePaginator
    from dlt.sources.rest_api import rest_api_source

    class AfterLastIdPaginator(BasePaginator):
        """The Intervals rule: ``after`` = the last item's ``_id``, while ``hasMore`` is true."""

        def __init__(self) -> None:
            super().__init__()
            self.cursor = None

        def update_state(self, response, data=None) -> None:
            body = response.json()
            items = body.get("data") or []
            self._has_next_page = bool(body.get("hasMore")) and bool(items)
            self.cursor = items[-1]["_id"] if items else None

        def update_request(self, request) -> None:
            request.params = {**(request.params or {}), "after": self.cursor}

    def pull() -> int:
        source = rest_api_source(
            {
                "client": {"base_url": url, "auth": {"type": "bearer", "token": key}},
                "resources": [
                    {
                        "name": "events",
                        "endpoint": {
                            "path": "events",
                            "data_selector": "data",
                            "paginator": AfterLastIdPaginator(),
                            "params": {"limit": 100, "dateFrom": bl.DATE_FROM, "dateTo": bl.DATE_TO},
                        },
                    }
                ],
            }
        )
        pipeline = dlt.pipeline(
            pipeline_name="bench_intervals",
            pipelines_dir=str(out / "pipelines"),
            destination=dlt.destinations.filesystem(bucket_url=f"file://{out / 'lake'}"),
            dataset_name="intervals",
        )
        pipeline.run(source, loader_file_format="jsonl")
        return pipeline.last_trace.last_normalize_info.row_counts.get("events", 0)

    import dlt.destinations

    return pull


def child(name: str, url: str, key: str) -> None:
    """Run one contender here (a fresh process); print its measurements as JSON."""
    if name == "dlt":
        bl.measure(_prepare_dlt, url, key)
    else:
        bl.child(name, url, key)


def main() -> None:
    """Run every contender per size on one sandbox process; print the table."""
    args = bl.parse_arguments(__doc__, "100000", CONTENDERS)
    if args.child:
        child(args.child, args.url, args.key)
        return
    contenders = [c for c in args.contenders.split(",") if c]
    if "dlt" in contenders and not dlt_available():
        print(f"dlt is not installed: skipping it (install {DLT_REQUIREMENT!r})", file=sys.stderr)
        contenders.remove("dlt")
    bl.compare(__file__, [int(x) for x in args.sizes.split(",")], contenders, args.repeat)


if __name__ == "__main__":
    main()
