"""Landing machinery: stream listing pages into object storage, publish windows atomically.

:mod:`.landing` holds the layout and the workers (read its docstring for the design);
:mod:`.series` a write series' parts, its directory, its checkpoint and the resume rules;
:mod:`.publish` the manifest, the ``_SUCCESS`` marker, the clean-up and reading a window back;
:mod:`.formats` the part-file formats (gzip JSON Lines, Parquet); :mod:`.pages` prefetching
and the worker threads. Any operator that lands a listing uses
:func:`~airflow_provider_intervals.storage.landing.land`; nothing else
writes parts.
"""

from __future__ import annotations

from airflow_provider_intervals.storage.formats import FORMATS, SCHEMAS, PartInfo
from airflow_provider_intervals.storage.landing import (
    LandingPaused,
    LandingResult,
    PageClient,
    Stream,
    land,
    partition_path,
    window_prefix,
)
from airflow_provider_intervals.storage.publish import MANIFEST, SUCCESS, iter_records, read_manifest
from airflow_provider_intervals.storage.series import CHECKPOINT_KEY, CarriedCheckpoint

__all__ = [
    "CHECKPOINT_KEY",
    "FORMATS",
    "MANIFEST",
    "SCHEMAS",
    "SUCCESS",
    "CarriedCheckpoint",
    "LandingPaused",
    "LandingResult",
    "PageClient",
    "PartInfo",
    "Stream",
    "iter_records",
    "land",
    "partition_path",
    "read_manifest",
    "window_prefix",
]
