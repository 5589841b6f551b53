"""The JSON Schema comes from the same key table as the loader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowweaver.spec import spec_schema
from flowweaver.spec.schema import POLICY_KEYS, TASK_KEYS, TOP_KEYS

ROOT = Path(__file__).resolve().parents[2]


def task_schema() -> dict[str, Any]:
    return spec_schema()["properties"]["tasks"]["additionalProperties"]  # type: ignore[no-any-return]


def test_it_is_json_and_names_its_draft() -> None:
    schema = spec_schema()
    assert json.loads(json.dumps(schema)) == schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_key_of_the_table_is_in_it_with_a_description() -> None:
    schema = spec_schema()
    assert list(schema["properties"]) == list(TOP_KEYS)
    assert list(task_schema()["properties"]) == list(TASK_KEYS)
    assert list(schema["properties"]["defaults"]["properties"]) == list(POLICY_KEYS)
    for properties in (schema["properties"], task_schema()["properties"]):
        assert all(entry["description"] for entry in properties.values())


def test_structure_rules() -> None:
    schema = spec_schema()
    assert schema["required"] == ["tasks"]
    assert schema["additionalProperties"] is False
    assert schema["patternProperties"] == {"^x\\-": {}}
    assert task_schema()["oneOf"] == [{"required": ["call"]}, {"required": ["shell"]}]
    assert task_schema()["additionalProperties"] is False


def test_the_published_schema_file_is_up_to_date() -> None:
    published = json.loads((ROOT / "docs" / "spec-schema.json").read_text(encoding="utf-8"))
    assert published == spec_schema(), "regenerate docs/spec-schema.json (see docs/spec-format.md)"


def test_gallery_specs_satisfy_it_and_invalid_ones_do_not() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(spec_schema())
    for spec in sorted((ROOT / "specs").glob("*.yaml")):
        assert list(validator.iter_errors(yaml.safe_load(spec.read_text()))) == [], spec
    for name in ("types", "unknown_keys", "call_shell"):
        text = (ROOT / "specs" / "invalid" / f"{name}.yaml").read_text()
        assert list(validator.iter_errors(yaml.safe_load(text))), name
