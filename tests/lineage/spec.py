"""Check OpenLineage events against the official JSON schemas, offline.

The schemas are OpenLineage's own (vendored in ``schemas/``; its README names the tag), plus
this provider's facet schemas in ``docs/lineage/``. Every file is registered under its
``$id``, so each ``$ref`` between them and each facet's ``_schemaURL`` resolves without a
network; a URL that is not among them is itself a violation.

An event is checked against its ``schemaURL`` (``OpenLineage.json#/$defs/RunEvent``), then
each facet (run, job, dataset, input and output facets) against its own ``_schemaURL``, with
formats checked (``uuid``, ``date``; ``jsonschema`` checks ``date-time`` and ``uri`` only
with packages Airflow does not install). A facet's ``_schemaURL`` must point (a JSON pointer,
``#/$defs/...``) at its definition, and a facet whose schema file declares its key (as
OpenLineage's facet files and ours do, in ``properties``) must use that key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable

HERE = Path(__file__).resolve().parent
SCHEMAS = HERE / "schemas"
OURS = HERE.parents[1] / "docs" / "lineage"
CORE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"  # the spec itself declares no facet keys


def schema_files() -> list[Path]:
    """Return the vendored OpenLineage schemas, then this provider's."""
    return [
        SCHEMAS / "OpenLineage.json",
        *sorted((SCHEMAS / "facets").glob("*.json")),
        *sorted(OURS.glob("*.json")),
    ]


def registry() -> Registry:
    """Return a registry of every schema file, each under its ``$id``."""
    resources = []
    for path in schema_files():
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


def violations(event: dict[str, Any], schemas: Registry) -> list[str]:
    """Return every way ``event`` or one of its facets breaks its schema (none: ``[]``)."""
    found = list(_check(event, event.get("schemaURL", ""), "event", schemas))
    for where, key, facet in _facets(event):
        url = facet.get("_schemaURL", "")
        found.extend(_check(facet, url, where, schemas))
        base, pointer = urldefrag(url)
        if not pointer.startswith("/$defs/"):  # the spec: a JSON pointer to the facet's definition
            found.append(f"{where}: _schemaURL {url!r} has no JSON pointer to a definition")
        if base != CORE and base in _ids(schemas):
            declared = schemas.contents(base).get("properties", {})
            if key not in declared:
                found.append(f"{where}: key {key!r}, but {base} declares {sorted(declared)}")
    return found


def _ids(schemas: Registry) -> set[str]:
    return set(schemas)


def _check(instance: Any, url: str, where: str, schemas: Registry) -> Iterator[str]:
    if urldefrag(url).url not in _ids(schemas):
        yield f"{where}: schema {url!r} is not among the vendored schemas"
        return
    validator = Draft202012Validator(
        {"$ref": url}, registry=schemas, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    try:
        for error in validator.iter_errors(instance):
            path = "/".join(map(str, error.absolute_path))
            yield f"{where}/{path}: {error.message} (schema {url})"
    except Unresolvable as error:
        yield f"{where}: {url} does not resolve: {error}"


def _facets(event: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield ``(where, key, facet)`` for every facet of the event."""
    places = [("run", event.get("run", {}), ("facets",)), ("job", event.get("job", {}), ("facets",))]
    places += [(f"inputs[{i}]", d, ("facets", "inputFacets")) for i, d in enumerate(event.get("inputs", []))]
    places += [
        (f"outputs[{i}]", d, ("facets", "outputFacets")) for i, d in enumerate(event.get("outputs", []))
    ]
    for where, holder, kinds in places:
        for kind in kinds:
            for key, facet in (holder.get(kind) or {}).items():
                yield f"{where}.{kind}.{key}", key, facet
