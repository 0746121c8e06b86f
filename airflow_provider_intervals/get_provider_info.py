"""Provider metadata for Airflow's providers manager (entry point ``apache_airflow_provider``).

Literals (the plans' labels come from :mod:`.pacing`, which imports only the standard
library; the documentation's and the logo's addresses from the package's ``REPOSITORY`` and
``RELEASE_TAG``), cheap to import: Airflow calls it from every CLI command, and a malformed
dict breaks them all, so a test validates it against Airflow's schema.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_intervals import RELEASE_TAG, REPOSITORY, __version__
from airflow_provider_intervals.pacing import PLAN_LIMITS, PLANS, Rate

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["login"],
    "relabeling": {"password": "API key", "host": "Base URL"},
    "placeholders": {
        "host": "https://api.intervals.run",
        "password": "Intervals API key (Bearer token)",
        "schema": "https (only used when the host has no scheme)",
        "port": "leave empty for the default port",
    },
}

# The connection form's extra fields: the keys, defaults and ranges of ``connection.Settings.from_extra``
# (a test holds the two together).
CONN_FIELDS: dict[str, Any] = {
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Seconds to wait for each response. Default 30.",
        "schema": {"type": ["number", "null"], "minimum": 0.001, "maximum": 3600},
    },
    "max_retries": {
        "label": "Max retries",
        "description": "Retries on network errors, 5xx and malformed bodies (a 429 spends none). Default 5.",
        "schema": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
    },
    "retry_backoff": {
        "label": "Retry backoff (seconds)",
        "description": "Base of the jittered wait between retries; it doubles each retry. Default 1.",
        "schema": {"type": ["number", "null"], "minimum": 0, "maximum": 600},
    },
    "retry_backoff_max": {
        "label": "Retry backoff cap (seconds)",
        "description": "Longest wait between two retries. Default 60 (a 429 waits its retryAfter).",
        "schema": {"type": ["number", "null"], "minimum": 0, "maximum": 3600},
    },
    "max_rate_limit_wait": {
        "label": "Longest rate-limit wait (seconds)",
        "description": "Longest a request waits for the key's allowance (429s, pacing). Default 900.",
        "schema": {"type": ["number", "null"], "minimum": 0, "maximum": 86400},
    },
    "page_size": {
        "label": "Page size",
        "description": "Items per list request, 1-100. Default 100 (fewest requests).",
        "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 100},
    },
    "intervals_version": {
        "label": "API version (Intervals-Version)",
        "description": "Pin the API to a dated version (YYYY-MM-DD); empty means latest stable.",
        "schema": {"type": ["string", "null"]},
    },
    "plan": {
        "label": "Plan (pacing)",
        "description": "Pace requests to the plan's allowance; unknown: no pacing. Default: learned from "
        "GET /organization.",
        # The form shows ``values_display``'s labels; the empty choice (preselected) saves "",
        # which the hooks read as "not set", like the null a cleared select saves.
        "schema": {
            "type": ["string", "null"],
            "enum": ["", *PLANS],
            "default": "",
            "values_display": {
                "": "Learn from GET /organization",
                **{plan: f"{plan}: {Rate.for_plan(plan).describe()}" for plan in PLAN_LIMITS},  # type: ignore[union-attr]
                "unknown": "unknown: no pacing",
            },
        },
    },
    "requests_per_minute": {
        "label": "Requests per minute",
        "description": "The key's allowance instead of the plan's, for every process sharing it (e.g. less, "
        "leaving the rest to other systems); with Burst.",
        "schema": {"type": ["number", "null"], "minimum": 0.001, "maximum": 1000000},
    },
    "burst": {
        "label": "Burst",
        "description": "Requests at once from a full allowance (with Requests per minute). Default 1.",
        "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 100000},
    },
    "pacing_conn_id": {
        "label": "Shared pacing store (connection id)",
        "description": "The id of a Redis or SQL database connection every worker reaches: all hosts share "
        "the key's allowance through it. Empty: the processes of each host share it, in a per-user cache "
        "directory.",
        "schema": {"type": ["string", "null"]},
    },
    "allow_insecure_http": {
        "label": "Allow plain HTTP",
        "description": "Send the API key over http to a host that is not loopback. Default false.",
        "schema": {"type": ["boolean", "null"]},
    },
}

INTEGRATION = "Intervals"
#: The documentation site's pages, as this release's source has them.
DOCS_URL = f"https://github.com/{REPOSITORY}/blob/{RELEASE_TAG}/docs"
#: The how-to guides, one per job: Airflow's ``/docs/{package}/...`` form of ``docs/howto/*.md``
#: (a test holds the list to the pages).
HOW_TO_GUIDES = [
    f"/docs/airflow-provider-intervals/howto/{page}.md"
    for page in ("land-events", "land-other", "preview", "new-events", "writes", "hook")
]
#: The integration's logo: the file the package ships (``logo.svg``), at this release's tag.
LOGO_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{RELEASE_TAG}/airflow_provider_intervals/logo.svg"


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata: connection type, hooks, operators, sensors, triggers."""
    return {
        "package-name": "airflow-provider-intervals",
        "name": "Intervals",
        "description": "Airflow provider for the Intervals partner API (running events and registrations).",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": f"{DOCS_URL}/index.md",
                "how-to-guide": HOW_TO_GUIDES,
                "logo": LOGO_URL,
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_intervals.hooks.intervals",
                    "airflow_provider_intervals.hooks.intervals_async",
                    "airflow_provider_intervals.hooks.pseudonymisation",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_intervals.operators.landing",
                    "airflow_provider_intervals.operators.events",
                    "airflow_provider_intervals.operators.registrations",
                    "airflow_provider_intervals.operators.recurrences",
                    "airflow_provider_intervals.operators.groups",
                    "airflow_provider_intervals.operators.writes.single",
                    "airflow_provider_intervals.operators.writes.bulk",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["airflow_provider_intervals.sensors.new_events"],
            }
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_intervals.triggers.new_events",
                    "airflow_provider_intervals.triggers.allowance",
                ],
            }
        ],
        "extra-links": [
            "airflow_provider_intervals.links.LandedWindowLink",
            "airflow_provider_intervals.links.WriteResultsLink",
            "airflow_provider_intervals.links.CreatedEventLink",
            "airflow_provider_intervals.links.RegistrationReferenceLink",
        ],
        "connection-types": [
            {
                "connection-type": "intervals",
                "hook-class-name": "airflow_provider_intervals.hooks.intervals.IntervalsHook",
                "hook-name": "Intervals",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
