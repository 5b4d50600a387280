"""Drives PostHog's official Python SDK against the fake PostHog (tests/tests/integration/python_sdk.rs).

Usage: sdk_conformance.py <base url> <project api key> <project secret key>

Captures through /batch/ (gzip) and capture v1, sets person and group properties, aliases,
reads remote and locally evaluated flags, then prints one JSON line with what the SDK returned.
The Rust test asserts on that line and on what the fake recorded.
"""

import json
import sys

import posthog
from posthog import Posthog
from posthog.capture_mode import CaptureMode


def main() -> None:
    host, project_key, secret_key = sys.argv[1], sys.argv[2], sys.argv[3]
    errors = []

    def on_error(error, items):
        errors.append(repr(error))

    client = Posthog(
        project_key,
        host=host,
        personal_api_key=secret_key,
        gzip=True,
        on_error=on_error,
        poll_interval=3600,
        feature_flags_request_timeout_seconds=5,
    )
    captured = client.capture(
        "signed_up", distinct_id="user-1", properties={"plan": "pro", "seats": 3}
    )
    client.set(distinct_id="user-1", properties={"email": "a@example.com"})
    client.set_once(distinct_id="user-1", properties={"first_seen": "2026-01-01"})
    client.group_identify("company", "acme", {"name": "Acme", "employees": 20})
    client.alias("anon-1", "user-1")

    # Remote: these flags are not in the definitions, so the SDK asks /flags.
    beta = client.get_feature_flag("beta", "user-1")
    variant = client.get_feature_flag("experiment", "user-1")
    payload = client.get_feature_flag_payload("experiment", "user-1")
    # Local: decided from the definitions alone.
    local_pro = client.get_feature_flag(
        "local-flag",
        "user-1",
        person_properties={"plan": "pro"},
        only_evaluate_locally=True,
    )
    local_free = client.get_feature_flag(
        "local-flag",
        "user-2",
        person_properties={"plan": "free"},
        only_evaluate_locally=True,
    )
    # The same call again: the SDK sends $feature_flag_called once per (user, flag, value).
    client.get_feature_flag(
        "local-flag",
        "user-1",
        person_properties={"plan": "pro"},
        only_evaluate_locally=True,
    )
    # A second poll carries If-None-Match and gets 304.
    client.load_feature_flags()
    after_reload = client.get_feature_flag(
        "local-flag",
        "user-1",
        person_properties={"plan": "pro"},
        only_evaluate_locally=True,
    )
    client.flush()
    client.shutdown()

    v1 = Posthog(
        project_key, host=host, capture_mode=CaptureMode.V1, on_error=on_error
    )
    v1_uuid = v1.capture(
        "v1_event",
        distinct_id="user-3",
        properties={"$process_person_profile": False, "k": "v"},
    )
    v1.flush()
    v1.shutdown()

    print(
        json.dumps(
            {
                "version": posthog.VERSION,
                "captured_uuid": captured,
                "v1_uuid": v1_uuid,
                "beta": beta,
                "variant": variant,
                "payload": payload,
                "local_pro": local_pro,
                "local_free": local_free,
                "after_reload": after_reload,
                "errors": errors,
            }
        )
    )


if __name__ == "__main__":
    main()
