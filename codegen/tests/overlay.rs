//! The overlay step: a fixture overlaid (its IR snapshotted), and every kind of bad overlay
//! reported with the overlay file and action index.

mod support;

use posthog_codegen::diagnostic::Diagnostics;
use posthog_codegen::ir::TypeRef;
use posthog_codegen::{Input, Output};
use support::{COMMAND, fixtures_dir, read};

const FIXTURE: &str = "codegen/tests/fixtures/request_bodies.yaml";

/// Generates the request-bodies fixture with `overlays` (source, text) applied.
fn overlaid(overlays: &[(&str, &str)]) -> Result<Output, Diagnostics> {
    let bytes = read(&fixtures_dir().join("request_bodies.yaml"));
    let inputs: Vec<Input<'_>> = overlays
        .iter()
        .map(|(source, text)| Input {
            source: (*source).to_owned(),
            bytes: text.as_bytes(),
        })
        .collect();
    posthog_codegen::generate_with_overlays(
        &Input {
            source: FIXTURE.to_owned(),
            bytes: &bytes,
        },
        &inputs,
        None,
        None,
        COMMAND,
    )
}

fn fixture_overlay() -> String {
    String::from_utf8(read(&fixtures_dir().join("overlays/request_bodies.yaml")))
        .unwrap_or_default()
}

/// The diagnostics of a run that must fail, as `pointer: message` lines.
fn problems(overlays: &[(&str, &str)]) -> Vec<String> {
    match overlaid(overlays) {
        Ok(_) => panic!("the overlays applied without a diagnostic"),
        Err(diagnostics) => diagnostics.0.iter().map(ToString::to_string).collect(),
    }
}

const HEAD: &str = "overlay: 1.0.0\ninfo: {title: t, version: '1'}\nactions:\n";

#[test]
fn overlaid_fixture_ir() {
    let overlay = fixture_overlay();
    let output = match overlaid(&[(
        "codegen/tests/fixtures/overlays/request_bodies.yaml",
        &overlay,
    )]) {
        Ok(output) => output,
        Err(diagnostics) => panic!("{diagnostics}"),
    };
    // What the overlay changed, read off the IR.
    let op = |id: &str| {
        output
            .api
            .operations
            .iter()
            .find(|op| op.id == id)
            .unwrap_or_else(|| panic!("no operation `{id}`"))
    };
    let run = op("run_create");
    assert_eq!(run.path, "/api/projects/{project_id}/run/");
    let notify = op("annotations_notify_create");
    let body = notify.body.as_ref().map(|body| &body.ty);
    assert_eq!(body, Some(&TypeRef::Named("NotifyRequest".into())));
    let patch = op("annotations_partial_update");
    assert!(
        patch.query_params.iter().any(|p| p.wire_name == "cursor"),
        "{:?}",
        patch.query_params
    );
    assert_eq!(output.report.overlays.len(), 1);
    assert_eq!(output.report.overlays[0].actions, 5);
    let header = output.files.values().next().map(|text| text.lines().next());
    assert!(
        header.flatten().is_some_and(|line| line
            .contains("with codegen/tests/fixtures/overlays/request_bodies.yaml (sha256 ")),
        "{header:?}"
    );
    let mut snapshot = format!("{}\n", output.report.overlays[0].source);
    for op in &output.api.operations {
        snapshot.push_str(&format!("{op:#?}\n"));
    }
    for name in ["NotifyRequest", "RunRequest"] {
        snapshot.push_str(&format!("{name}: {:#?}\n", output.api.types.get(name)));
    }
    insta::assert_snapshot!("overlaid_request_bodies_ir", snapshot);
}

#[test]
fn an_action_that_matches_nothing_names_file_index_and_path() {
    let text = format!(
        "{HEAD}  - target: $.components\n    description: ok\n    update: {{}}\n  - target: \"$.paths['/api/nowhere/']\"\n    description: gone upstream\n    update: {{x-a: 1}}\n"
    );
    let problems = problems(&[("schema/overlays/50-test.yaml", &text)]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("schema/overlays/50-test.yaml#/actions/1: target `$.paths['/api/nowhere/']`: matches nothing"),
        "{problems:?}"
    );
}

#[test]
fn invalid_jsonpath_is_reported_before_anything_is_applied() {
    let good = format!("{HEAD}  - target: $.paths\n    description: ok\n    update: {{}}\n");
    let bad = format!("{HEAD}  - target: $.paths[?\n    description: broken\n    update: {{}}\n");
    let problems = problems(&[("a.yaml", &good), ("b.yaml", &bad)]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .starts_with("b.yaml#/actions/0/target: `$.paths[?` is not a valid RFC 9535 JSONPath"),
        "{problems:?}"
    );
}

#[test]
fn a_document_that_is_not_an_overlay_is_refused() {
    let openapi = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n";
    let joined = problems(&[("schema/overlays/not-one.yaml", openapi)]).join("\n");
    assert!(
        joined.contains("schema/overlays/not-one.yaml#/overlay: not an overlay"),
        "{joined}"
    );
    assert!(
        joined.contains("schema/overlays/not-one.yaml#/openapi: unknown member `openapi`"),
        "{joined}"
    );
    assert!(
        joined.contains(
            "schema/overlays/not-one.yaml#/actions: an overlay needs a non-empty `actions` list"
        ),
        "{joined}"
    );
    let list = problems(&[("list.yaml", "- 1\n- 2\n")]);
    assert!(
        list[0].starts_with("list.yaml#: not an overlay"),
        "{list:?}"
    );
    let version = problems_of_version();
    assert!(
        version[0].contains("Overlay \"2.0.0\" is not supported"),
        "{version:?}"
    );
}

fn problems_of_version() -> Vec<String> {
    let text = "overlay: 2.0.0\ninfo: {title: t, version: '1'}\nactions:\n  - target: $\n    description: d\n    update: {}\n";
    problems(&[("v2.yaml", text)])
}

#[test]
fn every_action_needs_a_description_and_one_change() {
    let text = format!(
        "{HEAD}  - target: $.paths\n    update: {{}}\n  - target: $.paths\n    description: '  '\n    remove: true\n  - target: $.paths\n    description: both\n    remove: true\n    update: {{}}\n  - target: $.paths\n    description: neither\n  - target: $.paths\n    description: typo\n    updates: {{}}\n"
    );
    let problems = problems(&[("o.yaml", &text)]);
    let joined = problems.join("\n");
    for expected in [
        "o.yaml#/actions/0/description: target `$.paths`: every action needs a `description`",
        "o.yaml#/actions/1/description:",
        "o.yaml#/actions/2: target `$.paths`: an action either updates or removes, not both",
        "o.yaml#/actions/3: target `$.paths`: the action has neither `update` nor `remove: true`",
        "o.yaml#/actions/4/updates: unknown member `updates`",
    ] {
        assert!(
            joined.contains(expected),
            "missing {expected:?} in\n{joined}"
        );
    }
}

#[test]
fn updating_a_scalar_is_refused() {
    let text = format!("{HEAD}  - target: $.openapi\n    description: d\n    update: {{a: 1}}\n");
    let problems = problems(&[("s.yaml", &text)]);
    assert!(
        problems[0].contains("s.yaml#/actions/0: target `$.openapi`: matches #/openapi, which is not an object or array"),
        "{problems:?}"
    );
}

#[test]
fn overlays_apply_in_order_and_later_ones_see_earlier_changes() {
    let first = format!(
        "{HEAD}  - target: $.components.schemas\n    description: d\n    update: {{Added: {{type: object, properties: {{a: {{type: string}}}}}}}}\n"
    );
    let second = format!(
        "{HEAD}  - target: $.components.schemas.Added.properties\n    description: d\n    update: {{b: {{type: integer}}}}\n"
    );
    let output = match overlaid(&[("1.yaml", &first), ("2.yaml", &second)]) {
        Ok(output) => output,
        Err(diagnostics) => panic!("{diagnostics}"),
    };
    let sources: Vec<_> = output
        .report
        .overlays
        .iter()
        .map(|o| o.source.as_str())
        .collect();
    assert_eq!(sources, ["1.yaml", "2.yaml"]);
    assert!(output.report.to_string().contains("overlay 1.yaml"));
}
