#!/usr/bin/python3
"""Holds compat_pairs.json to an independent oracle: Debian's python3-avro checker.

Usage: /usr/bin/python3 compat_oracle.py compat_pairs.json

Every pair {name, reader, writer, expected} is checked with
avro.compatibility.ReaderWriterCompatibilityChecker; its verdict must equal "expected", which is
also what test_schema (our C checker) asserts. A pair marked "oracle_disagrees": "<reason>" is one
where python3-avro departs from the Avro specification: there the oracle must give the opposite
verdict (so the mark is removed once the oracle is fixed). The last line is "N passed, N failed";
the exit status is non-zero when anything failed.
"""
import json
import sys
import warnings

try:
    import avro.schema
    from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
except ImportError as e:  # the default python3 on PATH may lack it: run with /usr/bin/python3
    print(f"python3-avro is not importable ({e}); run with /usr/bin/python3")
    print("0 passed, 1 failed")
    sys.exit(1)


def verdict(reader_json, writer_json):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # python3-avro warns about logical types it ignores
        reader = avro.schema.parse(json.dumps(reader_json))
        writer = avro.schema.parse(json.dumps(writer_json))
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    return result.compatibility is SchemaCompatibilityType.compatible


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip())
        sys.exit(2)
    with open(sys.argv[1], encoding="utf-8") as f:
        pairs = json.load(f)
    passed = failed = disagreements = 0
    names = set()
    for p in pairs:
        name = p.get("name", "?")
        try:
            if name in names:
                raise ValueError("duplicate pair name")
            names.add(name)
            if not isinstance(p["expected"], bool):
                raise ValueError('"expected" is not a boolean')
            got = verdict(p["reader"], p["writer"])
        except Exception as e:  # a pair the oracle cannot even parse is a failed pair
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            failed += 1
            continue
        if "oracle_disagrees" in p:
            if got == p["expected"]:
                print(f"FAIL {name}: marked oracle_disagrees, but the oracle now agrees ({got})")
                failed += 1
            else:
                print(f"note {name}: oracle says {got}, expected {p['expected']}: {p['oracle_disagrees']}")
                disagreements += 1
                passed += 1
        elif got == p["expected"]:
            passed += 1
        else:
            print(f"FAIL {name}: oracle says {got}, expected {p['expected']}")
            failed += 1
    print(f"{len(pairs)} pairs, {disagreements} known disagreements with the oracle")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
