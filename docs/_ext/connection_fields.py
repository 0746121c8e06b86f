"""The ``intervals-connection-fields`` directive: the connection's fields, from the provider's metadata.

The tables are generated at build time from
:func:`airflow_provider_intervals.get_provider_info.get_provider_info`, the same metadata
Airflow's UI builds its connection form from, so the page, the form and the hooks' checks
(``connection.Settings``, held to that metadata by the tests) cannot disagree.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

STANDARD = ("host", "schema", "port", "password", "login")


def _allowed(schema: dict[str, Any]) -> str:
    kinds = [t for t in schema.get("type", []) if t != "null"]
    if "enum" in schema:
        shown = schema.get("values_display", {})
        return ", ".join(f"`{v}` ({shown[v]})" if v in shown else f"`{v}`" for v in schema["enum"] if v)
    if "minimum" in schema or "maximum" in schema:
        return f"{' or '.join(kinds)} from {schema.get('minimum', '')} to {schema.get('maximum', '')}"
    return " or ".join(kinds)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


class ConnectionFields(SphinxDirective):
    """Render the ``intervals`` connection type's standard and extra fields as tables."""

    def run(self) -> list[nodes.Node]:
        """Return the tables, parsed as the page's Markdown."""
        from airflow_provider_intervals.get_provider_info import get_provider_info

        (conn,) = get_provider_info()["connection-types"]
        behaviour, fields = conn["ui-field-behaviour"], conn["conn-fields"]
        # Markdown tables: this directive's content is parsed by the page's parser (MyST).
        rows = ["**Standard fields**", "", "| field | in the form | hint |", "|---|---|---|"]
        for field in STANDARD:
            if field not in behaviour["hidden-fields"]:
                label = behaviour["relabeling"].get(field, field.capitalize())
                hint = behaviour["placeholders"].get(field, "")
                rows.append(f"| `{field}` | {_cell(label)} | {_cell(hint)} |")
        rows += ["", "**Extra fields** (keys of the connection's `extra`)", ""]
        rows += ["| key | in the form | accepted | meaning |", "|---|---|---|---|"]
        for key, field in fields.items():
            accepted = _cell(f"{_allowed(field['schema'])}; empty means the default")
            rows.append(f"| `{key}` | {_cell(field['label'])} | {accepted} | {_cell(field['description'])} |")
        container = nodes.container()
        self.state.nested_parse(StringList(rows, source="connection_fields"), self.content_offset, container)
        return container.children


def setup(app: Any) -> dict[str, Any]:
    """Register the directive."""
    app.add_directive("intervals-connection-fields", ConnectionFields)
    return {"version": "1", "parallel_read_safe": True}
