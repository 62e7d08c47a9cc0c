#!/usr/bin/env python3
"""Validates Perch's pprof and speedscope outputs.

  check_formats.py pprof FILE.pb.gz EXPECTED_SAMPLES   parses FILE with pprof's profile.proto schema
                                                        (built here with the protobuf package) and
                                                        checks references and the sample total
  check_formats.py speedscope FILE.json EXPECTED_SAMPLES EXPECTED_WEIGHT
                                                        checks speedscope's file-format schema
Prints what it checked; exits 0 when valid, 1 when not, 77 when the protobuf package is missing.
"""
import gzip
import json
import sys


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def profile_class():
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    F = descriptor_pb2.FieldDescriptorProto
    # github.com/google/pprof/proto/profile.proto, field numbers and types.
    schema = {
        "Profile": [("sample_type", 1, "ValueType", True), ("sample", 2, "Sample", True), ("mapping", 3, "Mapping", True),
                    ("location", 4, "Location", True), ("function", 5, "Function", True), ("string_table", 6, F.TYPE_STRING, True),
                    ("drop_frames", 7, F.TYPE_INT64, False), ("keep_frames", 8, F.TYPE_INT64, False),
                    ("time_nanos", 9, F.TYPE_INT64, False), ("duration_nanos", 10, F.TYPE_INT64, False),
                    ("period_type", 11, "ValueType", False), ("period", 12, F.TYPE_INT64, False),
                    ("comment", 13, F.TYPE_INT64, True), ("default_sample_type", 14, F.TYPE_INT64, False)],
        "ValueType": [("type", 1, F.TYPE_INT64, False), ("unit", 2, F.TYPE_INT64, False)],
        "Sample": [("location_id", 1, F.TYPE_UINT64, True), ("value", 2, F.TYPE_INT64, True), ("label", 3, "Label", True)],
        "Label": [("key", 1, F.TYPE_INT64, False), ("str", 2, F.TYPE_INT64, False), ("num", 3, F.TYPE_INT64, False),
                  ("num_unit", 4, F.TYPE_INT64, False)],
        "Mapping": [("id", 1, F.TYPE_UINT64, False), ("memory_start", 2, F.TYPE_UINT64, False), ("memory_limit", 3, F.TYPE_UINT64, False),
                    ("file_offset", 4, F.TYPE_UINT64, False), ("filename", 5, F.TYPE_INT64, False), ("build_id", 6, F.TYPE_INT64, False),
                    ("has_functions", 7, F.TYPE_BOOL, False), ("has_filenames", 8, F.TYPE_BOOL, False),
                    ("has_line_numbers", 9, F.TYPE_BOOL, False), ("has_inline_frames", 10, F.TYPE_BOOL, False)],
        "Location": [("id", 1, F.TYPE_UINT64, False), ("mapping_id", 2, F.TYPE_UINT64, False), ("address", 3, F.TYPE_UINT64, False),
                     ("line", 4, "Line", True), ("is_folded", 5, F.TYPE_BOOL, False)],
        "Line": [("function_id", 1, F.TYPE_UINT64, False), ("line", 2, F.TYPE_INT64, False), ("column", 3, F.TYPE_INT64, False)],
        "Function": [("id", 1, F.TYPE_UINT64, False), ("name", 2, F.TYPE_INT64, False), ("system_name", 3, F.TYPE_INT64, False),
                     ("filename", 4, F.TYPE_INT64, False), ("start_line", 5, F.TYPE_INT64, False)],
    }
    file = descriptor_pb2.FileDescriptorProto(name="perftools/profiles/profile.proto", package="perftools.profiles", syntax="proto3")
    for name, fields in schema.items():
        message = file.message_type.add(name=name)
        for field_name, number, kind, repeated in fields:
            field = message.field.add(name=field_name, number=number,
                                      label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
            if isinstance(kind, str):
                field.type = F.TYPE_MESSAGE
                field.type_name = ".perftools.profiles." + kind
            else:
                field.type = kind
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    descriptor = pool.FindMessageTypeByName("perftools.profiles.Profile")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)


def check_pprof(path, expected_samples):
    try:
        Profile = profile_class()
    except ImportError as error:
        print(f"SKIP: the protobuf package is not installed ({error})")
        sys.exit(77)
    with gzip.open(path, "rb") as f:
        data = f.read()
    profile = Profile()
    profile.ParseFromString(data)
    # Re-encoding must give the same bytes: nothing was unknown to the schema or mis-typed.
    if profile.SerializeToString() != data:
        fail("re-encoding with profile.proto's schema does not reproduce the file")
    strings = list(profile.string_table)
    if not strings or strings[0] != "":
        fail("string_table[0] must be empty")
    def s(i):
        if not 0 <= i < len(strings):
            fail(f"string index {i} out of range")
        return strings[i]
    types = [(s(t.type), s(t.unit)) for t in profile.sample_type]
    print(f"sample types: {types}")
    if types[0] != ("samples", "count"):
        fail("the first sample type should be samples/count")
    functions = {f.id: f for f in profile.function}
    mappings = {m.id: m for m in profile.mapping}
    locations = {l.id: l for l in profile.location}
    for l in profile.location:
        if l.mapping_id not in mappings:
            fail(f"location {l.id} names missing mapping {l.mapping_id}")
        for line in l.line:
            if line.function_id not in functions:
                fail(f"location {l.id} names missing function {line.function_id}")
    total = 0
    names = set()
    for sample in profile.sample:
        if len(sample.value) != len(profile.sample_type):
            fail("a sample has the wrong number of values")
        for lid in sample.location_id:
            if lid not in locations:
                fail(f"sample names missing location {lid}")
        leaf = locations[sample.location_id[0]]
        names.add(s(functions[leaf.line[0].function_id].name))
        total += sample.value[0]
        labels = {s(l.key): (s(l.str) if l.str else l.num) for l in sample.label}
        if "thread" not in labels or "tid" not in labels:
            fail("a sample lacks thread/tid labels")
    print(f"samples: {len(profile.sample)} stacks, {total} samples, {len(profile.location)} locations, "
          f"{len(profile.function)} functions, {len(profile.mapping)} mappings; leaf functions include {sorted(names)[:5]}")
    print(f"period type: {s(profile.period_type.type)}/{s(profile.period_type.unit)}, period {profile.period}, "
          f"default sample type {s(profile.default_sample_type)}")
    if total != expected_samples:
        fail(f"samples sum to {total}, expected {expected_samples}")
    print("ok")


def check_speedscope(path, expected_samples, expected_weight):
    with open(path) as f:
        doc = json.load(f)
    # speedscope's file-format-schema.json: SpeedscopeFile requires $schema, shared.frames and
    # profiles; a SampledProfile requires type, name, unit, startValue, endValue, samples, weights.
    if doc.get("$schema") != "https://www.speedscope.app/file-format-schema.json":
        fail("$schema is missing or wrong")
    frames = doc["shared"]["frames"]
    if not isinstance(frames, list) or not all(isinstance(fr, dict) and isinstance(fr.get("name"), str) for fr in frames):
        fail("shared.frames must be a list of {name: string}")
    for fr in frames:
        if set(fr) - {"name", "file", "line", "col"}:
            fail(f"frame has unknown keys: {fr}")
    profiles = doc["profiles"]
    if not profiles:
        fail("no profiles")
    units = {"none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes"}
    samples_total = 0
    weight_total = 0
    for p in profiles:
        for key in ("type", "name", "unit", "startValue", "endValue", "samples", "weights"):
            if key not in p:
                fail(f"profile lacks {key}")
        if p["type"] != "sampled" or p["unit"] not in units:
            fail(f"bad type/unit {p['type']}/{p['unit']}")
        if len(p["samples"]) != len(p["weights"]):
            fail("samples and weights differ in length")
        for stack in p["samples"]:
            if not all(isinstance(i, int) and 0 <= i < len(frames) for i in stack):
                fail("a stack names a missing frame")
        if p["endValue"] != sum(p["weights"]) or p["startValue"] != 0:
            fail("startValue/endValue do not span the weights")
        weight_total += sum(p["weights"])
        samples_total += len(p["samples"])
    if "activeProfileIndex" in doc and not 0 <= doc["activeProfileIndex"] < len(profiles):
        fail("activeProfileIndex out of range")
    print(f"speedscope: {len(profiles)} profiles, {len(frames)} frames, {samples_total} stacks, weight {weight_total}, unit {profiles[0]['unit']}")
    if expected_weight >= 0 and weight_total != expected_weight:
        fail(f"weights sum to {weight_total}, expected {expected_weight}")
    print("ok")


if sys.argv[1] == "pprof":
    check_pprof(sys.argv[2], int(sys.argv[3]))
else:
    check_speedscope(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
