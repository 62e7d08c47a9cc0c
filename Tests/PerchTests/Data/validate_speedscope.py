#!/usr/bin/env python3
"""Validates a speedscope file against speedscope's published JSON schema.

  validate_speedscope.py SCHEMA.json FILE.json

speedscope-file-format-schema.json beside this script is speedscope's file-format-schema.json
(https://www.speedscope.app/file-format-schema.json, generated from src/lib/file-format-spec.ts;
committed at https://github.com/jlfwong/speedscope/blob/e341b0a439ffefe744447901eff88bbde601b6da/file-format-schema.json).
Exits 0 when valid, 1 with the first error when not, 77 when the jsonschema package is missing.
"""
import json
import sys

try:
    import jsonschema
except ImportError:
    print("jsonschema is not installed (pip install jsonschema)")
    sys.exit(77)

with open(sys.argv[1]) as f:
    schema = json.load(f)
with open(sys.argv[2]) as f:
    document = json.load(f)
validator = jsonschema.Draft6Validator(schema)
errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
if errors:
    error = errors[0]
    print(f"invalid at {'/'.join(map(str, error.path)) or '(root)'}: {error.message} ({len(errors)} errors)")
    sys.exit(1)
print(f"valid: {len(document['profiles'])} profiles, {len(document['shared']['frames'])} frames")
