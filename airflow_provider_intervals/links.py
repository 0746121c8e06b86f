"""Extra links: the buttons in a task instance's view that open what the task landed or created.

Airflow 3 asks each link of a task for its URL once, on the worker, when the task ends
(``finalize``), and keeps the answer in XCom for the UI. So a link reads what ``execute`` found
out from the operator itself (:meth:`IntervalsLink.record`); it makes no request, and a task
that ended before it knew (a bad argument, a failed request) shows no button for it. The UI
shows only ``http(s)`` links and links into Airflow itself.

Where the links go:

- **A landed window** (:class:`LandedWindowLink`) and **a bulk write's results**
  (:class:`WriteResultsLink`): the file in object storage, as :func:`storage_url` makes it
  openable: the S3 console for ``s3://`` on AWS (as the amazon provider links its S3
  objects), the object's path-style URL on an S3-compatible store (an ``aws`` connection
  with ``endpoint_url``), the Google Cloud console for ``gs://``. A local ``file://`` is
  nothing a web page may open: its link opens the task's XCom in Airflow's UI instead,
  where the file's path and the counts are.
- **A created event** (:class:`CreatedEventLink`): the API's address of the event,
  ``{base URL}/events/{eventId}`` (it answers with the event for the connection's key).
- **A registration** (:class:`RegistrationReferenceLink`): the API answers ``POST
  /registration`` with the participant's id alone and has no address for a participant, so
  the link opens the reference of that endpoint, what the task did.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from airflow.sdk import BaseOperatorLink

from airflow_provider_intervals import RELEASE_TAG, REPOSITORY

_log = logging.getLogger(__name__)
AWS_S3_CONSOLE = "https://s3.console.aws.amazon.com/s3/object/{bucket}?{query}"
GCS_CONSOLE = "https://console.cloud.google.com/storage/browser/_details/{bucket}/{key}"
API_REFERENCE = f"https://github.com/{REPOSITORY}/blob/{RELEASE_TAG}/docs/intervals-api.md"


class IntervalsLink(BaseOperatorLink):
    """A link to what the task produced: the URL its ``execute`` recorded on the operator.

    Subclasses set ``name`` (the button's label); an operator lists them in
    ``operator_extra_links`` and calls :meth:`record` once it knows where its output is.
    """

    name: ClassVar[str]  # type: ignore[misc]  # the base declares an abstract property

    @classmethod
    def record(cls, operator: Any, url: str) -> None:
        """Remember ``url`` on ``operator`` (the running task) as this link's target."""
        urls = dict(getattr(operator, "_intervals_links", None) or {})
        urls[cls.name] = url
        operator._intervals_links = urls

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        """Return the URL the task recorded, or ``""`` (the button is disabled) if it recorded none."""
        return (getattr(operator, "_intervals_links", None) or {}).get(self.name, "")


class LandedWindowLink(IntervalsLink):
    """The published window's manifest (``_manifest.json``), in its object store."""

    name = "Landed window"


class WriteResultsLink(IntervalsLink):
    """A bulk write's results file: every row's outcome (the created id or the error)."""

    name = "Write results"


class CreatedEventLink(IntervalsLink):
    """The created event's address in the API (``GET /events/{eventId}``)."""

    name = "Created event"


class RegistrationReferenceLink(IntervalsLink):
    """The reference of ``POST /registration``: the API has no address for one participant."""

    name = "Registration (API reference)"


def event_url(api_url: str, event_id: str) -> str:
    """Return the API's address of an event: ``{api_url}/events/{event_id}``."""
    return f"{api_url.rstrip('/')}/events/{quote(str(event_id), safe='')}"


def registration_reference_url() -> str:
    """Return the endpoints' section of this release's API notes, where ``POST /registration`` is."""
    return f"{API_REFERENCE}#endpoints"


def storage_url(path: Any, ti: Any) -> str:
    """Return a URL a browser can open for a file in object storage (an ``ObjectStoragePath``).

    ``s3://``: the AWS S3 console (with the region of the path's ``aws`` connection, when it
    names one), or, when that connection names an ``endpoint_url`` (an S3-compatible store),
    the object's path-style URL there. ``gs://``: the Google Cloud console. ``file://``: the
    task's XCom in Airflow's UI (:func:`task_xcom_url`). Other schemes: the path's URL
    without its connection id.

    :param ti: the running task instance (``context["ti"]``), for a local file's link (none
        without it).
    """
    protocol = path.protocol if isinstance(path.protocol, str) else path.protocol[0]
    if protocol in ("file", "local"):
        return "" if ti is None else task_xcom_url(ti)
    bucket, key = str(path.bucket), str(path.key).lstrip("/")
    if protocol in ("s3", "s3a"):
        extra = _connection_extra(getattr(path, "conn_id", None))
        endpoint = extra.get("endpoint_url") or (extra.get("service_config") or {}).get("s3", {}).get(
            "endpoint_url"
        )
        if endpoint:
            return f"{str(endpoint).rstrip('/')}/{bucket}/{quote(key)}"
        query = {"prefix": key, **({"region": extra["region_name"]} if extra.get("region_name") else {})}
        return AWS_S3_CONSOLE.format(bucket=bucket, query=urlencode(query))
    if protocol in ("gs", "gcs"):
        return GCS_CONSOLE.format(bucket=bucket, key=quote(key))
    return f"{protocol}://{bucket}/{key}"


def task_xcom_url(ti: Any) -> str:
    """Return the address of a task instance's XCom in Airflow's UI (its *Storage* tab).

    Below ``[api] base_url`` when it is set, else a path on the UI's own host.
    """
    try:
        from airflow.sdk.configuration import conf
    except ImportError:  # Airflow < 3.2
        from airflow.configuration import conf

    base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    dag, run, task = (quote(str(part), safe="") for part in (ti.dag_id, ti.run_id, ti.task_id))
    mapped = f"/mapped/{ti.map_index}" if getattr(ti, "map_index", -1) not in (None, -1) else ""
    return f"{base}/dags/{dag}/runs/{run}/tasks/{task}{mapped}/xcom"


def _connection_extra(conn_id: str | None) -> dict[str, Any]:
    """Return the extras of the store's connection, or ``{}`` (no connection, or none found)."""
    if not conn_id:
        return {}
    from airflow.sdk import BaseHook

    try:
        extra = BaseHook.get_connection(conn_id).extra_dejson
    except Exception:  # a link must never fail the task: fall back to the console
        _log.debug("no connection %s for a storage link", conn_id, exc_info=True)
        return {}
    return extra if isinstance(extra, dict) else {}
