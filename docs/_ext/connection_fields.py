"""The ``intervals-connection-fields`` directive: the connection's fields, from the provider's metadata.

The tables are generated at build time from
:func:`airflow_provider_intervals.get_provider_info.get_provider_info`, the same metadata
Airflow's UI builds its connection form from, so the page, the form and the hooks' checks
(``connection.Settings``, held to that metadata by the tests) cannot disagree.
``tests/docs/test_connection_page.py`` reads the same rows (:func:`extra_rows`) and fails when
what they state (a key, a default, an accepted value) differs from what the hooks do.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

STANDARD = ("host", "schema", "port", "password", "login")


class ExtraRow(NamedTuple):
    """One extra as the page states it.

    :param key: the key in the connection's ``extra``.
    :param label: the form's label.
    :param accepted: what the form and the hooks accept, in words.
    :param meaning: the form's help text: what it does, and its default.
    """

    key: str
    label: str
    accepted: str
    meaning: str


def _allowed(schema: dict[str, Any]) -> str:
    kinds = [t for t in schema.get("type", []) if t != "null"]
    if "enum" in schema:
        shown = schema.get("values_display", {})
        return ", ".join(f"`{v}` ({shown[v]})" if v in shown else f"`{v}`" for v in schema["enum"] if v)
    if "minimum" in schema or "maximum" in schema:
        return f"{' or '.join(kinds)} from {schema.get('minimum', '')} to {schema.get('maximum', '')}"
    return " or ".join(kinds)


def extra_rows(info: dict[str, Any]) -> list[ExtraRow]:
    """Return the ``intervals`` connection type's extras as the page states them.

    :param info: the provider's metadata, ``get_provider_info()``.
    """
    (conn,) = info["connection-types"]
    return [
        ExtraRow(
            key, field["label"], f"{_allowed(field['schema'])}; empty means the default", field["description"]
        )
        for key, field in conn["conn-fields"].items()
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(info: dict[str, Any]) -> list[str]:
    """Return the page's tables, as Markdown lines: the standard fields, then the extras.

    :param info: the provider's metadata, ``get_provider_info()``.
    """
    (conn,) = info["connection-types"]
    behaviour = conn["ui-field-behaviour"]
    rows = ["**Standard fields**", "", "| field | in the form | hint |", "|---|---|---|"]
    for field in STANDARD:
        if field not in behaviour["hidden-fields"]:
            label = behaviour["relabeling"].get(field, field.capitalize())
            hint = behaviour["placeholders"].get(field, "")
            rows.append(f"| `{field}` | {_cell(label)} | {_cell(hint)} |")
    rows += ["", "**Extra fields** (keys of the connection's `extra`)", ""]
    rows += ["| key | in the form | accepted | meaning |", "|---|---|---|---|"]
    for row in extra_rows(info):
        rows.append(f"| `{row.key}` | {_cell(row.label)} | {_cell(row.accepted)} | {_cell(row.meaning)} |")
    return rows


class ConnectionFields(SphinxDirective):
    """Render the ``intervals`` connection type's standard and extra fields as tables."""

    def run(self) -> list[nodes.Node]:
        """Return the tables, parsed as the page's Markdown."""
        from airflow_provider_intervals.get_provider_info import get_provider_info

        container = nodes.container()
        # Markdown tables: this directive's content is parsed by the page's parser (MyST).
        lines = StringList(markdown(get_provider_info()), source="connection_fields")
        self.state.nested_parse(lines, self.content_offset, container)
        return container.children


def setup(app: Any) -> dict[str, Any]:
    """Register the directive."""
    app.add_directive("intervals-connection-fields", ConnectionFields)
    return {"version": "1", "parallel_read_safe": True}
