"""The spec loader: YAML spec files → :class:`~flowweaver.Workflow` objects.

This package is the only code in FlowWeaver that imports ``yaml``; ``import
flowweaver`` doesn't import it (``flowweaver.load_workflow`` imports this package
when called).

    load_workflow(path, params=None, *, check_imports=True) -> Workflow
    validate_spec(path, params=None, *, check_imports=True) -> list[Problem]
    parse_param_value(text) -> Any          # a --param value, read as a YAML scalar
    spec_schema() -> dict                   # the JSON Schema of spec files

Modules, in the order a spec goes through them: ``yamlnodes`` (compose into the
located ``nodes``: duplicate keys, tags, merges, the alias bound), ``document`` (the
key table in ``schema``, made of ``kinds`` and ``records``; ``interpolate``,
``durations``), ``dependencies`` (unknown, self, cycles, order), ``build``
(``imports``, ``binding``, the tasks and the workflow), all driven by ``loader``;
``problems`` collects what is wrong, located.
"""

from __future__ import annotations

from flowweaver.spec.loader import load_workflow, validate_spec
from flowweaver.spec.params import parse_param_value
from flowweaver.spec.schema import spec_schema

__all__ = ["load_workflow", "parse_param_value", "spec_schema", "validate_spec"]
