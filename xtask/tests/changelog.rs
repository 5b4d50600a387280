//! The API changelog on PostHog's real schemas (2023-02 -> 2023-11 -> 2025), snapshotted and
//! spot-checked on changes verified by hand in the data, plus a small pair of our own that pins
//! down the breaking/compatible classification.

use openapiv3::OpenAPI;
use xtask::changelog::{Change, ChangeKind, Changelog, Severity, Usage, changelog};
use xtask::schema_file::{SchemaFile, read_openapi};

fn shared_schema(name: &str) -> anyhow::Result<OpenAPI> {
    read_openapi(&xtask::workspace_root().join("../shared/schemas").join(name))
}

fn inline_schema(yaml: &str) -> anyhow::Result<OpenAPI> {
    SchemaFile::parse(yaml.as_bytes(), "fixture")?.to_openapi("fixture")
}

/// The changes of `METHOD path` with `kind`, as (severity, place, name, old, new).
fn find<'a>(
    log: &'a Changelog,
    method: &str,
    path: &str,
    kind: ChangeKind,
) -> anyhow::Result<Vec<&'a Change>> {
    let op = log
        .operation(method, path)
        .ok_or_else(|| anyhow::anyhow!("no changes recorded for {method} {path}"))?;
    Ok(op.changes.iter().filter(|c| c.kind == kind).collect())
}

fn type_change<'a>(log: &'a Changelog, ty: &str, field: &str, kind: ChangeKind) -> Vec<&'a Change> {
    log.type_changes(ty)
        .map(|t| {
            t.changes
                .iter()
                .filter(|c| c.kind == kind && c.name == field)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn changelog_2023_02_to_2023_11() -> anyhow::Result<()> {
    let old = shared_schema("posthog-2023-02.yaml")?;
    let new = shared_schema("posthog-2023-11.yaml")?;
    let log = changelog(&old, &new);

    // The 2023-11 copy added /capture/ by hand (see the schemas' README).
    let capture = find(&log, "POST", "/capture/", ChangeKind::OperationAdded)?;
    assert_eq!(capture.len(), 1);
    assert_eq!(capture[0].severity, Severity::Compatible);
    assert!(log.tags.get("capture").is_some_and(|ops| ops.len() == 2));

    let removed = find(
        &log,
        "GET",
        "/api/projects/{project_id}/dashboard_templates/repository/",
        ChangeKind::OperationRemoved,
    )?;
    assert_eq!(removed[0].severity, Severity::Breaking);

    // FilterAction.math gained "hogql": compatible for a client whose enums have a fallback.
    let hogql = type_change(&log, "FilterAction", "math", ChangeKind::EnumValueAdded);
    assert_eq!(hogql.len(), 1);
    assert_eq!(hogql[0].new.as_deref(), Some("\"hogql\""));
    assert_eq!(hogql[0].severity, Severity::Compatible);

    // Experiment.feature_flag went from an id to a nested object.
    let retyped = type_change(&log, "Experiment", "feature_flag", ChangeKind::FieldRetyped);
    assert_eq!(retyped.len(), 1);
    assert_eq!(retyped[0].old.as_deref(), Some("integer"));
    assert_eq!(retyped[0].new.as_deref(), Some("MinimalFeatureFlag"));
    assert_eq!(retyped[0].severity, Severity::Breaking);

    // Action.bytecode_error is required but read-only: it only travels in responses, so adding
    // it does not break requests.
    let bytecode = type_change(&log, "Action", "bytecode_error", ChangeKind::FieldAdded);
    assert_eq!(bytecode.len(), 1);
    assert_eq!(bytecode[0].required, Some(true));
    assert_eq!(bytecode[0].severity, Severity::Compatible);
    assert_eq!(
        log.type_changes("Action").map(|t| t.usage),
        Some(Usage::Both)
    );

    assert!(log.types_removed.iter().any(|t| t == "EventDefinition"));
    assert!(log.types_added.iter().any(|t| t == "BatchExport"));
    assert_eq!((log.old.operations, log.new.operations), (224, 332));

    insta::assert_snapshot!("changelog_2023_02_to_2023_11", log.to_markdown());
    Ok(())
}

#[test]
fn changelog_2023_11_to_2025() -> anyhow::Result<()> {
    let old = shared_schema("posthog-2023-11.yaml")?;
    let new = shared_schema("posthog-2025.json")?;
    let log = changelog(&old, &new);

    // The hand-added /capture/ is not part of PostHog's served schema.
    let capture = find(&log, "POST", "/capture/", ChangeKind::OperationRemoved)?;
    assert_eq!(capture[0].severity, Severity::Breaking);

    let added = find(
        &log,
        "GET",
        "/api/projects/{project_id}/feature_flags/{id}/remote_config/",
        ChangeKind::OperationAdded,
    )?;
    assert_eq!(added.len(), 1);

    // The activity endpoint's 200 lost its documented body.
    let activity = find(
        &log,
        "GET",
        "/api/projects/{project_id}/feature_flags/{id}/activity/",
        ChangeKind::BodyRemoved,
    )?;
    assert_eq!(activity[0].severity, Severity::Breaking);

    // drf-spectacular extracted the inline enum into AnnotationScopeEnum and added values:
    // the rename is compatible, the new values are reported one by one.
    let scope = type_change(&log, "Annotation", "scope", ChangeKind::FieldRetyped);
    assert_eq!(scope.len(), 1);
    assert_eq!(scope[0].new.as_deref(), Some("AnnotationScopeEnum"));
    assert_eq!(scope[0].severity, Severity::Compatible);
    let values: Vec<&str> = type_change(&log, "Annotation", "scope", ChangeKind::EnumValueAdded)
        .iter()
        .filter_map(|c| c.new.as_deref())
        .collect();
    assert_eq!(values, ["\"dashboard\"", "\"recording\""]);

    // Team.timezone became the shared TimezoneEnum, which knows 157 more zones; the Markdown
    // gathers them into one line.
    let zones = type_change(&log, "Team", "timezone", ChangeKind::EnumValueAdded);
    assert_eq!(zones.len(), 157);
    let markdown = log.to_markdown();
    assert!(markdown.contains("- field `timezone`: 157 enum values added: `\"Africa/Asmera\"`"));

    assert_eq!((log.old.operations, log.new.operations), (332, 772));
    assert_eq!(log.new.types, 776);

    insta::assert_snapshot!("changelog_2023_11_to_2025", markdown);
    Ok(())
}

#[test]
fn a_schema_against_itself_is_empty() -> anyhow::Result<()> {
    let doc = shared_schema("posthog-2025.json")?;
    let log = changelog(&doc, &doc);
    assert!(log.is_empty());
    assert_eq!((log.breaking, log.compatible), (0, 0));
    assert!(
        log.to_markdown()
            .contains("No changes a client user can see.")
    );
    Ok(())
}

#[test]
fn json_output_carries_every_change() -> anyhow::Result<()> {
    let old = shared_schema("posthog-2023-02.yaml")?;
    let new = shared_schema("posthog-2023-11.yaml")?;
    let log = changelog(&old, &new);
    let json: serde_json::Value = serde_json::from_str(&log.to_json())?;
    assert_eq!(json["breaking"], log.breaking);
    assert_eq!(json["compatible"], log.compatible);
    let capture = &json["tags"]["capture"][0];
    assert_eq!(capture["method"], "POST");
    assert_eq!(capture["changes"][0]["kind"], "operation_added");
    assert_eq!(capture["changes"][0]["severity"], "compatible");
    // The same input gives the same bytes.
    assert_eq!(log.to_json(), changelog(&old, &new).to_json());
    Ok(())
}

const BEFORE: &str = r#"
openapi: 3.0.3
info: {title: fixture, version: '1'}
paths:
  /api/things/:
    post:
      tags: [things]
      operationId: things_create
      requestBody:
        content: {application/json: {schema: {$ref: '#/components/schemas/Thing'}}}
      responses:
        '201': {description: created}
  /api/things/{id}/:
    get:
      tags: [things]
      operationId: things_retrieve
      parameters:
        - {in: path, name: id, required: true, schema: {type: integer}}
        - {in: query, name: search, schema: {type: string}}
        - {in: query, name: mode, schema: {type: string, enum: [a, b]}}
      responses:
        '200':
          description: ok
          content: {application/json: {schema: {$ref: '#/components/schemas/Thing'}}}
    patch:
      tags: [things]
      operationId: things_partial_update
      parameters:
        - {in: path, name: id, required: true, schema: {type: integer}}
      requestBody:
        content: {application/json: {schema: {$ref: '#/components/schemas/PatchedThing'}}}
      responses:
        '200':
          description: ok
          content: {application/json: {schema: {$ref: '#/components/schemas/Thing'}}}
  /api/old/:
    get:
      tags: [old]
      responses: {'200': {description: ok}}
components:
  schemas:
    Thing:
      type: object
      required: [id, name]
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string}
        kind: {$ref: '#/components/schemas/KindEnum'}
        legacy: {type: string}
    PatchedThing:
      type: object
      properties:
        name: {type: string}
    KindEnum:
      type: string
      enum: [x, y]
"#;

const AFTER: &str = r#"
openapi: 3.0.3
info: {title: fixture, version: '2'}
paths:
  /api/things/:
    post:
      tags: [things]
      operationId: things_create
      requestBody:
        content: {application/json: {schema: {$ref: '#/components/schemas/Thing'}}}
      responses:
        '201': {description: created}
  /api/things/{thing_id}/:
    get:
      tags: [things]
      operationId: things_retrieve
      parameters:
        - {in: path, name: thing_id, required: true, schema: {type: integer}}
        - {in: query, name: search, required: true, schema: {type: string}}
        - {in: query, name: mode, schema: {type: string, enum: [a, c]}}
        - {in: query, name: limit, schema: {type: integer}}
      responses:
        '200':
          description: ok
          content: {application/json: {schema: {$ref: '#/components/schemas/Thing'}}}
        '404': {description: missing}
    patch:
      tags: [things]
      operationId: things_partial_update
      parameters:
        - {in: path, name: thing_id, required: true, schema: {type: integer}}
      requestBody:
        content: {application/json: {schema: {$ref: '#/components/schemas/PatchedThing'}}}
      responses:
        '200':
          description: ok
          content: {application/json: {schema: {$ref: '#/components/schemas/Thing'}}}
  /api/new/:
    post:
      tags: [new]
      responses: {'201': {description: ok}}
components:
  schemas:
    Thing:
      type: object
      required: [id, name, created]
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string, nullable: true}
        kind: {$ref: '#/components/schemas/KindEnum'}
        created: {type: string, format: date-time, readOnly: true}
    PatchedThing:
      type: object
      required: [name]
      properties:
        name: {type: string}
        note: {type: string}
    KindEnum:
      type: string
      enum: [x, y, z]
"#;

#[test]
fn classification_follows_the_direction_of_travel() -> anyhow::Result<()> {
    let log = changelog(&inline_schema(BEFORE)?, &inline_schema(AFTER)?);
    let severity_of = |kind: ChangeKind, name: &str| -> Vec<Severity> {
        log.changes()
            .filter(|c| c.kind == kind && c.name == name)
            .map(|c| c.severity)
            .collect()
    };
    use ChangeKind::*;
    use Severity::*;
    // A renamed path parameter is the same operation and the same parameter.
    assert!(log.operation("GET", "/api/things/{thing_id}/").is_some());
    assert_eq!(severity_of(ParameterAdded, "id"), []);
    assert_eq!(severity_of(ParameterMadeRequired, "search"), [Breaking]);
    assert_eq!(severity_of(ParameterAdded, "limit"), [Compatible]);
    assert_eq!(severity_of(EnumValueAdded, "mode"), [Compatible]);
    assert_eq!(severity_of(EnumValueRemoved, "mode"), [Breaking]);
    assert_eq!(severity_of(ResponseAdded, "404"), [Compatible]);
    // Thing is read and written: a new required read-only field only travels in responses.
    assert_eq!(severity_of(FieldAdded, "created"), [Compatible]);
    // name may now be null: a reader can no longer rely on it.
    assert_eq!(severity_of(FieldRetyped, "name"), [Breaking]);
    assert_eq!(severity_of(FieldRemoved, "legacy"), [Breaking]);
    // PatchedThing is request-only: a field made required breaks writers, a new optional one
    // does not.
    assert_eq!(severity_of(FieldMadeRequired, "name"), [Breaking]);
    assert_eq!(severity_of(FieldAdded, "note"), [Compatible]);
    assert_eq!(severity_of(EnumValueAdded, ""), [Compatible]);
    assert_eq!(
        log.type_changes("KindEnum").map(|t| t.usage),
        Some(Usage::Both)
    );
    assert_eq!(
        log.type_changes("PatchedThing").map(|t| t.usage),
        Some(Usage::Request)
    );

    let old_tag = log.tags.get("old").map(|ops| ops[0].changes[0].kind);
    assert_eq!(old_tag, Some(OperationRemoved));
    let new_tag = log.tags.get("new").map(|ops| ops[0].changes[0].kind);
    assert_eq!(new_tag, Some(OperationAdded));

    insta::assert_snapshot!("changelog_fixture", log.to_markdown());
    Ok(())
}
