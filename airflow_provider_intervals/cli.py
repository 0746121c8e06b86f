"""The provider's command line: ``python -m airflow_provider_intervals preview ...``.

``preview`` tells what a landing of events would fetch and how long it takes at the key's
plan, before a backfill: events per day, the requests a landing makes, the time at the
plan's rate. It only reads (``GET`` requests), writes nothing, and uses an Airflow
connection as a task would (``AIRFLOW_CONN_*``, a secrets backend or the metadata DB).
Progress goes to stderr when it is a terminal; ``--json`` prints the result as JSON.

Exit status: 0 done, 2 a bad argument or connection (nothing was sent), 1 the API failed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

from airflow_provider_intervals.connection import DEFAULT_CONN_ID
from airflow_provider_intervals.inflight import DEFAULT_CONCURRENCY, MAX_CONCURRENCY

DAYS_SHOWN = 31  # longer windows are summed by month on the terminal (--json has every day)


def _parser() -> argparse.ArgumentParser:
    prog, about = "python -m airflow_provider_intervals", __doc__.split("\n")[0]
    parser = argparse.ArgumentParser(prog=prog, description=about)
    commands = parser.add_subparsers(dest="command", required=True)
    preview = commands.add_parser(
        "preview",
        help="what a landing of events would fetch, and how long it takes at the key's plan",
        description="Count the events of a window day by day, as a landing would fetch them, and say "
        "what the landing costs in requests and time at the key's plan. Writes nothing.",
    )
    add = preview.add_argument
    add("--conn-id", default=DEFAULT_CONN_ID, help="the Intervals connection (default %(default)s)")
    add("--date-from", required=True, help="first day, YYYY-MM-DD")
    add("--date-to", required=True, help="last day, inclusive, YYYY-MM-DD")
    add("--type", dest="event_type", help="only events of this type: race, runClub, timeTrial, other")
    add("--group", dest="group_slug", help="only this group's events (GET /groups/{slug}/events)")
    add(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help="the landing's concurrency (default %(default)s)",
    )
    add("--split-days", type=int, help="the landing's split_days (default: none)")
    add("--sample-days", type=int, help="count only this many days, spread evenly, and estimate the rest")
    add("--json", action="store_true", help="print the result as JSON (every day's count)")
    return parser


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command line; return the exit status."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    args = _parser().parse_args(argv)
    with _logs_to_stderr(out, err):
        status, result = _preview(args, err)
    if result:
        out.write(result)
        out.flush()
    return status


@contextlib.contextmanager
def _logs_to_stderr(out: TextIO, err: TextIO) -> Iterator[None]:
    """Send what Airflow logs to stdout to stderr while the command works: the result owns stdout.

    Airflow's loggers may hold the stdout stream, or its file descriptor: both are redirected.
    """
    out.flush()
    try:
        fd = out.fileno()
        saved = os.dup(fd)
        os.dup2(err.fileno(), fd)
    except (AttributeError, OSError, ValueError):  # not a real file (a test's StringIO)
        fd = saved = -1
    try:
        with contextlib.redirect_stdout(err):
            yield
    finally:
        if saved >= 0:
            sys.stdout.flush()
            os.dup2(saved, fd)
            os.close(saved)


def _preview(args: argparse.Namespace, err: TextIO) -> tuple[int, str]:
    """Run ``preview``; return the exit status and what to print on stdout."""
    from airflow_provider_intervals import exceptions as exc
    from airflow_provider_intervals import validation

    try:  # the landing's settings; preview.preview_events checks its own before any request
        concurrency = validation.check_whole("concurrency", args.concurrency, 1, MAX_CONCURRENCY)
        split_days = None
        if args.split_days is not None:
            split_days = validation.check_whole("split_days", args.split_days, 1, 100_000)
    except exc.IntervalsArgumentError as error:
        print(f"error: {_flag(error)}", file=err)
        return 2, ""

    if not _find_connection(args.conn_id, err):
        return 2, ""
    from airflow_provider_intervals.hooks.intervals import IntervalsHook
    from airflow_provider_intervals.preview import preview_events

    hook = IntervalsHook(intervals_conn_id=args.conn_id)
    progress = _Progress(err)
    try:
        preview = preview_events(
            hook,
            date_from=args.date_from,
            date_to=args.date_to,
            event_type=args.event_type,
            group_slug=args.group_slug,
            sample_days=args.sample_days,
            on_page=progress.update,
        )
    except exc.IntervalsArgumentError as error:
        progress.done()
        print(f"error: {_flag(error)}", file=err)
        return 2, ""
    except exc.IntervalsConfigurationError as error:
        progress.done()
        print(f"error: {error}", file=err)
        return 2, ""
    except exc.IntervalsError as error:
        progress.done()
        print(f"error: the API failed: {error}", file=err)
        return 1, ""
    finally:
        hook.close()
    progress.done()
    if args.json:
        return 0, json.dumps(preview.to_json(concurrency, split_days), indent=2) + "\n"
    text = io.StringIO()
    _print(preview, concurrency, split_days, text)
    return 0, text.getvalue()


def _find_connection(conn_id: str, err: TextIO) -> bool:
    """Look the connection up as ``airflow connections get`` does; hand it to the hook.

    Outside a task, the task SDK's look-up reads the environment and secrets backends but
    not the metadata DB; Airflow's own look-up reads all three. What it finds is put in this
    process's environment (``AIRFLOW_CONN_*``), where the hook's look-up finds it.
    """
    variable = f"AIRFLOW_CONN_{conn_id.upper()}"
    if os.environ.get(variable):
        return True
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    try:
        connection = Connection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        print(
            f"error: connection {conn_id!r} is not defined: add it (airflow connections add {conn_id} ...) "
            f"or set {variable}",
            file=err,
        )
        return False
    os.environ[variable] = connection.as_json()
    return True


def _flag(error: Any) -> str:
    """Name the command-line flag for an argument error (``date_to`` -> ``--date-to``)."""
    flags = {"event_type": "--type", "group_slug": "--group", "slug": "--group"}
    flag = flags.get(error.argument, "--" + error.argument.replace("_", "-"))
    return str(error).replace(error.argument, flag, 1)


class _Progress:
    """Pages and events so far, on one line of stderr, when stderr is a terminal."""

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self.tty = err.isatty()
        self.start = time.monotonic()
        self.shown = False

    def update(self, pages: int, events: int) -> None:
        if self.tty:
            elapsed = time.monotonic() - self.start
            self.err.write(f"\rpreview: {pages:,} pages, {events:,} events ({elapsed:.0f} s)")
            self.err.flush()
            self.shown = True

    def done(self) -> None:
        if self.shown:
            self.err.write("\n")
            self.err.flush()
            self.shown = False


def _print(preview: Any, concurrency: int, split_days: int | None, out: TextIO) -> None:
    from airflow_provider_intervals.preview import describe_duration

    window = preview.window
    print(f"{preview.listing}  {window.date_from} .. {window.date_to} ({window.days()} days)", file=out)
    if window.days() <= DAYS_SHOWN or preview.sampled:
        rows = list(preview.by_day.items())
    else:
        months: dict[str, int] = {}
        for day, count in preview.by_day.items():
            months[day[:7]] = months.get(day[:7], 0) + count
        rows = list(months.items())
    width = max(len(f"{n:,}") for _, n in rows)
    for label, count in rows:
        print(f"  {label}  {count:>{width},}", file=out)
    busiest = max(preview.by_day.items(), key=lambda item: item[1])
    empty = sum(1 for n in preview.by_day.values() if n == 0)
    if preview.sampled:
        print(
            f"events: about {preview.events:,} (estimated from the {len(preview.by_day)} days above; "
            f"busiest {busiest[0]}: {busiest[1]:,})",
            file=out,
        )
    else:
        print(
            f"events: {preview.events:,} (busiest day {busiest[0]}: {busiest[1]:,}; "
            f"{empty} days without events)",
            file=out,
        )
    subs = len(window.sub_windows(concurrency, split_days))
    requests = preview.landing_requests(concurrency, split_days)
    how = f"concurrency {concurrency}" + (f", split_days {split_days}" if split_days else "")
    print(
        f"a landing ({how}) fetches them in {'about ' if preview.sampled else ''}{requests:,} requests "
        f"over {subs} sub-window(s), {preview.page_size} events per page",
        file=out,
    )
    rate = "not paced" if preview.rate is None else preview.rate.describe()
    print(
        f"at the key's plan ({rate}, from {preview.pacing}) that takes "
        f"{describe_duration(preview.landing_seconds(concurrency, split_days))}",
        file=out,
    )
    learnt = " (and GET /organization, to learn the plan)" if "GET /organization" in preview.pacing else ""
    print(f"this preview made {preview.requests:,} listing requests{learnt} and wrote nothing", file=out)
