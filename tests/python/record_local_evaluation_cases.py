"""A pytest plugin that records posthog-python's own local-evaluation test cases as data.

Run PostHog's test suite from the installed wheel with this plugin to write
tests/fixtures/posthog_python_local_evaluation.json, the conformance table of
tests/tests/integration/local_flags.rs:

    pip install posthog==7.91.1 pytest parameterized freezegun python-dateutil pydantic
    cd tests/python && python -m pytest -q -p no:cacheprovider -p record_local_evaluation_cases \
        "$(python -c 'import posthog, os; print(os.path.dirname(posthog.__file__))')/test/test_feature_flags.py"

Every record is one call the suite made, with the SDK's answer (which the suite asserts on) and
the test it came from; inputs that are not JSON (datetime objects, Decimals) are left out.
"""

import atexit
import datetime
import json
import os

import posthog.client
import posthog.feature_flags as feature_flags
from posthog.feature_flags import InconclusiveMatchError, RequiresServerEvaluation

OUTPUT = os.path.join(
    os.path.dirname(__file__), "..", "fixtures", "posthog_python_local_evaluation.json"
)

_records = {"property": [], "flag": []}
_definitions = []
_definition_index = {}
_depth = [0]


def _test_name():
    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    return current.split(" ")[0].split("::", 1)[-1]


def _outcome(call):
    try:
        value = call()
        return {"value": value}
    except RequiresServerEvaluation as error:
        return {"inconclusive": "requires_server", "reason": str(getattr(error, "reason", ""))}
    except InconclusiveMatchError as error:
        return {"inconclusive": "inconclusive", "reason": str(getattr(error, "reason", ""))}


def _representable(value):
    """Whether every number fits the 64-bit integers and finite doubles JSON readers share."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**64
    if isinstance(value, float):
        return abs(value) < 1.7e308
    if isinstance(value, list):
        return all(_representable(item) for item in value)
    if isinstance(value, dict):
        return all(_representable(item) for item in value.values())
    return False


def _json(value):
    try:
        loaded = json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return None
    return loaded if _representable(loaded) else None


def _definition(snapshot):
    data = {
        "flags": list((snapshot.get("flags_by_key") or {}).values()),
        "cohorts": snapshot.get("cohorts") or {},
        "group_type_mapping": snapshot.get("group_type_mapping") or {},
        "property_matching_version": snapshot.get("property_matching_version", 1),
    }
    text = json.dumps(data, sort_keys=True, default=str)
    if text not in _definition_index:
        _definition_index[text] = len(_definitions)
        _definitions.append(json.loads(text))
    return _definition_index[text]


_original_match_property = feature_flags.match_property


def _recording_match_property(prop, values, property_matching_version=1):
    result = _outcome(
        lambda: _original_match_property(prop, values, property_matching_version)
    )
    if _depth[0] == 0:
        record = {
            "test": _test_name(),
            "property": _json(prop),
            "values": _json(values),
            "property_matching_version": property_matching_version,
            "now": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            **result,
        }
        if record["property"] is not None and record["values"] is not None:
            _records["property"].append(record)
    if "value" in result:
        return result["value"]
    return _original_match_property(prop, values, property_matching_version)


feature_flags.match_property = _recording_match_property

_original_compute = posthog.client.Client._compute_flag_locally


def _recording_compute(self, feature_flag, distinct_id, **kwargs):
    snapshot = kwargs.get("_definition_snapshot") or self._local_evaluation_snapshot()
    _depth[0] += 1
    try:
        result = _outcome(
            lambda: _original_compute(self, feature_flag, distinct_id, **kwargs)
        )
    finally:
        _depth[0] -= 1
    record = {
        "test": _test_name(),
        "flag": feature_flag.get("key"),
        "definitions": _definition(snapshot),
        # A flag evaluated without being among the definitions is kept with the case.
        "flag_definition": None
        if feature_flag.get("key") in (snapshot.get("flags_by_key") or {})
        else _json(feature_flag),
        "distinct_id": _json(distinct_id),
        "device_id": _json(kwargs.get("device_id")),
        "groups": _json(kwargs.get("groups") or {}),
        "person_properties": _json(kwargs.get("person_properties") or {}),
        "group_properties": _json(kwargs.get("group_properties") or {}),
        "now": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        **result,
    }
    if None not in (
        record["distinct_id"],
        record["person_properties"],
        record["group_properties"],
    ):
        _records["flag"].append(record)
    if "value" in result:
        return result["value"]
    return _original_compute(self, feature_flag, distinct_id, **kwargs)


posthog.client.Client._compute_flag_locally = _recording_compute


def _write():
    # Inside the suite's own module the names were imported before this plugin patched them
    # only if collection ran first; the plugin loads first, so both paths are recorded.
    seen = set()
    properties = []
    for record in _records["property"]:
        key = json.dumps({k: v for k, v in record.items() if k != "now"}, sort_keys=True)
        if key not in seen:
            seen.add(key)
            properties.append(record)
    flags = []
    for record in _records["flag"]:
        # A memory test that repeats one flag for 1,000 users adds no semantics.
        if "out_of_memory" in record["test"]:
            continue
        key = json.dumps({k: v for k, v in record.items() if k != "now"}, sort_keys=True)
        if key not in seen:
            seen.add(key)
            flags.append(record)
    document = {
        "source": "posthog-python "
        + posthog.VERSION
        + " posthog/test/test_feature_flags.py, recorded by tests/python/record_local_evaluation_cases.py",
        "definitions": _definitions,
        "property_cases": properties,
        "flag_cases": flags,
    }
    # One case per line keeps diffs of a re-recording readable.
    with open(OUTPUT, "w", encoding="utf-8") as out:
        out.write('{"source": %s,\n' % json.dumps(document["source"]))
        for name in ("definitions", "property_cases", "flag_cases"):
            out.write('"%s": [\n' % name)
            items = document[name]
            for index, item in enumerate(items):
                comma = "," if index + 1 < len(items) else ""
                out.write(json.dumps(item, sort_keys=True, ensure_ascii=False) + comma + "\n")
            out.write("]" + ("}\n" if name == "flag_cases" else ",\n"))


atexit.register(_write)
