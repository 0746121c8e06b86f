"""Publishing a window atomically, and reading it back through its manifest.

Order: the parts already exist; the manifest is written under a temporary name and moved
into place (an atomic rename on a file system, a single-object copy on S3), so a reader
sees the previous manifest or the new one, never half of one; then ``_SUCCESS``; then
everything under the prefix that the manifest does not name is deleted (older series, a
crashed try's stray parts, temporary manifests).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_intervals import __version__
from airflow_provider_intervals import exceptions as exc
from airflow_provider_intervals.storage import formats
from airflow_provider_intervals.storage.atomic import write_atomically
from airflow_provider_intervals.storage.destination import make_directory

MANIFEST = "_manifest.json"
SUCCESS = "_SUCCESS"
_PART_FIELDS = ("path", "records", "bytes", "sha256")


def publish(
    prefix: ObjectStoragePath, write_id: str, parts: list[dict[str, Any]], description: Mapping[str, Any]
) -> ObjectStoragePath:
    """Publish the parts of series ``write_id`` as the window at ``prefix``; return the manifest's path.

    :param prefix: the window's prefix.
    :param write_id: the series the parts belong to (``w={write_id}/...``).
    :param parts: the parts, in reading order, with ``path``, ``records``, ``bytes``, ``sha256``.
    :param description: what else the manifest says (window, filters, resource, format, requests).
    """
    manifest = {
        "manifest_version": 1,
        **description,
        "records": sum(p["records"] for p in parts),
        "parts": [{k: p[k] for k in _PART_FIELDS} for p in parts],
        "write_id": write_id,
        "provider_version": __version__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    target = prefix / MANIFEST
    if not parts:  # no part made the prefix (an empty window): the manifest needs it
        make_directory(prefix)
    write_atomically(target, write_id, json.dumps(manifest, indent=1).encode())
    with (prefix / SUCCESS).open("wb") as out:
        out.write(json.dumps({"write_id": write_id, "records": manifest["records"]}).encode())
    remove_unlisted(prefix, write_id, {p["path"] for p in parts})
    return target


def remove_unlisted(prefix: ObjectStoragePath, write_id: str, listed: set[str]) -> None:
    """Delete everything under ``prefix`` but the manifest, the marker and the listed parts."""
    fs, root = prefix.fs, prefix.path.rstrip("/")
    keep_top = {MANIFEST, SUCCESS, f"w={write_id}"}
    for child in fs.ls(root, detail=False):
        name = child.rstrip("/").rsplit("/", 1)[-1]
        if name not in keep_top:
            fs.rm(child, recursive=True)
    series = f"{root}/w={write_id}"
    if fs.exists(series):
        stray = [f for f in fs.find(series) if f[len(root) + 1 :] not in listed]
        if stray:
            fs.rm(stray)


def read_manifest(prefix: ObjectStoragePath) -> dict[str, Any]:
    """Return the published manifest of the window at ``prefix``.

    :param prefix: the window's prefix, or the manifest's own path.
    """
    path = prefix if prefix.name == MANIFEST else prefix / MANIFEST
    return json.loads(path.read_bytes())


def iter_records(prefix: ObjectStoragePath, *, verify: bool = False) -> Iterator[dict[str, Any]]:
    """Yield the published items of a window, part by part, following its manifest.

    :param prefix: the window's prefix, or the manifest's own path.
    :param verify: check each part's size and sha256 against the manifest first.
    """
    root = prefix.parent if prefix.name == MANIFEST else prefix
    manifest = read_manifest(root)
    for part in manifest["parts"]:
        path = root / part["path"]
        if verify:
            data = path.read_bytes()
            if len(data) != part["bytes"] or hashlib.sha256(data).hexdigest() != part["sha256"]:
                raise exc.IntervalsStorageError(f"part {part['path']} does not match its manifest entry")
        with path.open("rb") as raw:
            yield from formats.iter_part(raw, manifest["format"], manifest["resource"])
