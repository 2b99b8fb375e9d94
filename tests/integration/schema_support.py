"""The data model's JSON Schemas (schemas/, docs/DATA_MODEL.md) for the tests:
validate(document, "devices") checks a document against
schemas/devices.schema.json; validate(obj, "model#device") against one
shared definition of schemas/model.schema.json. Every schema is loaded
once, and $refs between the files resolve from those copies (nothing is
fetched).
"""

import json
from pathlib import Path

import jsonschema

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def _load():
    store = {}
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        store[schema["$id"]] = schema
    return store


STORE = _load()
BASE = "https://ttalloc.invalid/schemas/"


def schema_of(name):
    """The schema of document `name` ("devices"), or of a definition ("model#device")."""
    if "#" in name:
        doc, definition = name.split("#", 1)
        return {"$ref": "%s%s.schema.json#/$defs/%s" % (BASE, doc, definition)}
    return STORE[BASE + name + ".schema.json"]


def validator(name):
    schema = schema_of(name)
    resolver = jsonschema.RefResolver(BASE, schema, store=STORE)
    return jsonschema.Draft202012Validator(schema, resolver=resolver)


def errors(document, name):
    """Every way `document` breaks schema `name`, as readable lines (empty: valid)."""
    return ["%s: %s" % ("/".join(str(p) for p in e.absolute_path) or "(top)", e.message)
            for e in sorted(validator(name).iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))]


def validate(document, name):
    """Fails (AssertionError, every error listed) unless `document` is valid against schema `name`."""
    found = errors(document, name)
    assert not found, "not valid against %s:\n  %s" % (name, "\n  ".join(found[:30]))
    return document


def names():
    """The document schemas (not model.schema.json, which holds the shared definitions)."""
    return sorted(p.name[:-len(".schema.json")] for p in SCHEMA_DIR.glob("*.schema.json")
                  if p.name != "model.schema.json")
