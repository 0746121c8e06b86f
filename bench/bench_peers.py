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

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
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
        source = rest_api_source({
            "client": {"base_url": url, "auth": {"type": "bearer", "token": key}},
            "resources": [{
                "name": "events",
                "endpoint": {
                    "path": "events", "data_selector": "data", "paginator": AfterLastIdPaginator(),
                    "params": {"limit": 100, "dateFrom": bl.DATE_FROM, "dateTo": bl.DATE_TO},
                },
            }],
        })  # fmt: skip
        pipeline = dlt.pipeline(
            pipeline_name="bench_intervals", pipelines_dir=str(out / "pipelines"),
            destination=dlt.destinations.filesystem(bucket_url=f"file://{out / 'lake'}"),
            dataset_name="intervals",
        )  # fmt: skip
        pipeline.run(source, loader_file_format="jsonl")
        return pipeline.last_trace.last_normalize_info.row_counts.get("events", 0)

    import dlt.destinations

    return pull


def child(name: str, url: str, key: str) -> None:
    """Run one contender here (a fresh process); print its measurements as JSON."""
    if name != "dlt":
        bl.child(name, url, key)
        return
    import gc
    import logging
    import resource

    logging.disable(logging.INFO)
    out = Path(tempfile.mkdtemp(prefix="bench-dlt-"))
    try:
        pull = _prepare_dlt(url, key, out)
        gc.collect()
        baseline_kb = bl._rss_kb()
        maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sampler = bl.Sampler()
        sampler.start()
        started = time.perf_counter()
        events = pull()
        seconds = time.perf_counter() - started
        sampler.stop()
        maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak_kb = max(sampler.peak_kb, maxrss_after if maxrss_after > maxrss_before else 0)
        print(json.dumps({"events": events, "seconds": seconds, "added_mb": (peak_kb - baseline_kb) / 1024,
                          "baseline_mb": baseline_kb / 1024, "sockets": sampler.max_sockets}))  # fmt: skip
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _control(url: str, path: str, post: bool = False) -> dict:
    request = urllib.request.Request(f"{url}/_sandbox/{path}", data=b"{}" if post else None,
                                     method="POST" if post else "GET")  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def run_child(name: str, url: str, key: str) -> dict:
    """Run one contender in a fresh interpreter; add the requests it made."""
    _control(url, "reset-stats", post=True)
    done = subprocess.run([sys.executable, __file__, "--child", name, "--url", url, "--key", key],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["requests"] = _control(url, "stats")["requests"]
    return result


def main() -> None:
    """Run every contender per size on one sandbox process; print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000", help="comma-separated event counts")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--repeat", type=int, default=1, help="rounds per size; the best throughput counts")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url, args.key)
        return
    contenders = [c for c in args.contenders.split(",") if c]
    if "dlt" in contenders and not dlt_available():
        print(f"dlt is not installed: skipping it (install {DLT_REQUIREMENT!r})", file=sys.stderr)
        contenders.remove("dlt")
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        process, url, key = bl.start_sandbox(size)
        try:
            results: dict[str, dict] = {}
            for round_ in range(args.repeat):
                for name in contenders:
                    print(f"  {size:>9,} events, round {round_ + 1}: {name} ...", file=sys.stderr, flush=True)
                    r = run_child(name, url, key)
                    best = results.get(name)
                    if best is None or r["seconds"] < best["seconds"]:
                        results[name] = {**r, "added_mb": max(r["added_mb"], (best or r)["added_mb"])}
                    else:
                        best["added_mb"] = max(r["added_mb"], best["added_mb"])
        finally:
            process.terminate()
            process.wait()
        base = results.get("bare-loop")
        for name, r in results.items():
            rate = r["events"] / r["seconds"]
            ratio = rate / (base["events"] / base["seconds"]) if base else float("nan")
            rows.append((size, name, r["events"], rate, ratio, r["added_mb"], r["sockets"],
                         r["requests"] / max(r["events"], 1), r["seconds"]))  # fmt: skip
    header = (f"{'events':>9}  {'contender':<14} {'landed':>9} {'events/s':>9} {'vs bare':>7} "
              f"{'added MB':>9} "
              f"{'sockets':>7} {'req/event':>9} {'seconds':>8}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for size, name, landed, rate, ratio, added, sockets, per_event, seconds in rows:
        print(f"{size:>9,}  {name:<14} {landed:>9,} {rate:>9,.0f} {ratio:>6.2f}x {added:>9.1f} {sockets:>7} "
              f"{per_event:>9.4f} {seconds:>8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
