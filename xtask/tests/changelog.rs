//! The API changelog on PostHog's real schemas (2023-02 -> 2023-11 -> 2025), snapshotted and
//! spot-checked on changes verified by hand in the data, plus a small pair of our own that pins
//! down the breaking/compatible classification. Both sides go through the generator's front end,
//! so the changelog names what the crate names (methods, modules and features, types).

use xtask::changelog::{
    ChangeKind, Changelog, Comparison, Schema, Severity, Usage, compare, lower, to_json,
    to_markdown,
};
use xtask::overlays::{OverlayFile, read_overlays};

fn shared_schema(name: &str) -> anyhow::Result<Schema> {
    let path = xtask::workspace_root().join("../shared/schemas").join(name);
    Ok(Schema::new(
        format!("../shared/schemas/{name}"),
        std::fs::read(path)?,
    ))
}

fn inline_schema(yaml: &str) -> Schema {
    Schema::new("fixture", yaml.as_bytes().to_vec())
}

fn overlays() -> anyhow::Result<Vec<OverlayFile>> {
    read_overlays(&xtask::workspace_root())
}

/// The changelog of two schemas that both lower, or the diagnostics as the failure.
fn changelog(old: &Schema, new: &Schema, overlays: &[OverlayFile]) -> anyhow::Result<Changelog> {
    match compare(old, new, overlays, &Default::default()) {
        Comparison::Compared(log) => Ok(log),
        refused => anyhow::bail!("{}", refused.to_markdown()),
    }
}

/// The changes of `METHOD path` with `kind`.
fn find<'a>(
    log: &'a Changelog,
    method: &str,
    path: &str,
    kind: ChangeKind,
) -> anyhow::Result<Vec<&'a xtask::changelog::Change>> {
    let op = log
        .operation(method, path)
        .ok_or_else(|| anyhow::anyhow!("no changes recorded for {method} {path}"))?;
    Ok(op.changes.iter().filter(|c| c.kind == kind).collect())
}

fn type_change<'a>(
    log: &'a Changelog,
    ty: &str,
    field: &str,
    kind: ChangeKind,
) -> Vec<&'a xtask::changelog::Change> {
    log.type_changes(ty)
        .map(|t| {
            t.changes
                .iter()
                .filter(|c| c.kind == kind && c.name == field)
                .collect()
        })
        .unwrap_or_default()
}

/// The module an operation of the changelog is listed under.
fn module_of<'a>(log: &'a Changelog, method: &str, path: &str) -> Option<&'a str> {
    log.operation(method, path).map(|op| op.module.as_str())
}

#[test]
fn changelog_2023_02_to_2023_11() -> anyhow::Result<()> {
    // The overlays are written for the 2025 schema; these two are compared as published.
    let old = shared_schema("posthog-2023-02.yaml")?;
    let new = shared_schema("posthog-2023-11.yaml")?;
    let log = changelog(&old, &new, &[])?;

    // The 2023-11 copy added /capture/ by hand (see the schemas' README).
    let capture = find(&log, "POST", "/capture/", ChangeKind::OperationAdded)?;
    assert_eq!(capture[0].severity, Severity::Compatible);
    assert!(log.modules.get("capture").is_some_and(|ops| ops.len() == 2));

    let removed = find(
        &log,
        "GET",
        "/api/projects/{project_id}/dashboard_templates/repository/",
        ChangeKind::OperationRemoved,
    )?;
    assert_eq!(removed[0].severity, Severity::Breaking);

    // FilterAction.math's inline enum is the type `FilterActionMath` in the crate; it gained
    // "hogql": compatible for a client whose enums have a fallback.
    let hogql = type_change(&log, "FilterActionMath", "", ChangeKind::EnumValueAdded);
    assert_eq!(hogql.len(), 1);
    assert_eq!(hogql[0].new.as_deref(), Some("\"hogql\""));
    assert_eq!(hogql[0].severity, Severity::Compatible);

    // Experiment.feature_flag went from an id to a nested object, in the crate's types.
    let retyped = type_change(&log, "Experiment", "feature_flag", ChangeKind::FieldRetyped);
    assert_eq!(retyped.len(), 1);
    assert_eq!(retyped[0].old.as_deref(), Some("i64"));
    assert_eq!(retyped[0].new.as_deref(), Some("MinimalFeatureFlag"));
    assert_eq!(retyped[0].severity, Severity::Breaking);

    // Action.bytecode_error is required but read-only: it only travels in answers, so adding it
    // does not break requests.
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

    insta::assert_snapshot!("changelog_2023_02_to_2023_11", to_markdown(&log));
    Ok(())
}

#[test]
fn changelog_2023_11_to_2025() -> anyhow::Result<()> {
    let old = shared_schema("posthog-2023-11.yaml")?;
    let new = shared_schema("posthog-2025.json")?;
    let log = changelog(&old, &new, &[])?;

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

    // The activity endpoint's 200 lost its documented body: the method now returns raw JSON.
    let activity = find(
        &log,
        "GET",
        "/api/projects/{project_id}/feature_flags/{id}/activity/",
        ChangeKind::FieldRetyped,
    )?;
    assert_eq!(activity[0].place, "response");
    assert_eq!(
        activity[0].new.as_deref(),
        Some("serde_json::Value (undocumented)")
    );
    assert_eq!(activity[0].severity, Severity::Breaking);

    // drf-spectacular extracted the inline enum into AnnotationScopeEnum: in the crate the
    // field's type is renamed (AnnotationScope, named from its place, is gone), which code
    // naming the old type sees.
    let scope = type_change(&log, "Annotation", "scope", ChangeKind::FieldRetyped);
    assert_eq!(scope.len(), 1);
    assert_eq!(scope[0].old.as_deref(), Some("AnnotationScope"));
    assert_eq!(scope[0].new.as_deref(), Some("AnnotationScopeEnum"));
    assert_eq!(scope[0].severity, Severity::Breaking);
    assert!(log.types_removed.iter().any(|t| t == "AnnotationScope"));

    assert_eq!((log.old.operations, log.new.operations), (332, 772));

    insta::assert_snapshot!("changelog_2023_11_to_2025", to_markdown(&log));
    Ok(())
}

/// The regression of issue 20: the changelog filed `/api/environments/` operations under the
/// tag `environments` (the document's last tag) while the crate files 230 of them under their
/// project twin's module and feature. Now every operation is listed under the module the crate
/// puts its method in.
#[test]
fn environment_operations_are_listed_under_the_crates_module() -> anyhow::Result<()> {
    let old = shared_schema("posthog-2023-11.yaml")?;
    let new = shared_schema("posthog-2025.json")?;
    let log = changelog(&old, &new, &[])?;
    assert_eq!(
        module_of(&log, "GET", "/api/environments/{project_id}/batch_exports/"),
        Some("batch_exports")
    );
    let api = lower(&new, &[], &Default::default())?;
    let crate_module = |method: &str, path: &str| {
        api.operations
            .iter()
            .find(|op| op.method == method && op.path == path)
            .map(|op| posthog_codegen::emit::tag_module(&op.tag))
    };
    let mut environments = 0;
    for (module, ops) in &log.modules {
        for op in ops
            .iter()
            .filter(|op| op.path.starts_with("/api/environments/"))
        {
            environments += 1;
            assert_eq!(op.module, *module);
            assert_eq!(
                crate_module(&op.method, &op.path).as_deref(),
                Some(module.as_str()),
                "{} {}",
                op.method,
                op.path
            );
        }
    }
    assert_eq!(environments, 289);
    let outside = log
        .modules
        .iter()
        .filter(|(module, _)| module.as_str() != "environments")
        .flat_map(|(_, ops)| ops)
        .filter(|op| op.path.starts_with("/api/environments/"))
        .count();
    assert_eq!(outside, 230);
    Ok(())
}

#[test]
fn a_schema_against_itself_is_empty_with_the_overlays_applied_to_both() -> anyhow::Result<()> {
    let doc = shared_schema("posthog-2025.json")?;
    let overlays = overlays()?;
    // The overlays did apply: their request body is a type of the lowered API.
    assert!(
        lower(&doc, &overlays, &Default::default())?
            .types
            .contains_key("HogQlQueryRequest")
    );
    assert!(
        !lower(&doc, &[], &Default::default())?
            .types
            .contains_key("HogQlQueryRequest")
    );
    let log = changelog(&doc, &doc, &overlays)?;
    assert!(log.is_empty());
    assert_eq!((log.breaking, log.compatible), (0, 0));
    assert!(to_markdown(&log).contains("No changes a client user can see."));
    Ok(())
}

/// Overlays go through the generator's front end on both sides: what they add is no change,
/// and comparing the published schema with the overlaid one shows exactly what they add.
#[test]
fn overlays_change_what_the_generator_sees() -> anyhow::Result<()> {
    let doc = shared_schema("posthog-2025.json")?;
    let overlaid = lower(&doc, &overlays()?, &Default::default())?;
    let published = lower(&doc, &[], &Default::default())?;
    let log = posthog_codegen::diff::diff(&published, &overlaid);
    assert!(log.types_added.iter().any(|t| t == "HogQlQueryRequest"));
    assert!(
        log.operation("POST", "/api/projects/{project_id}/query/")
            .is_some()
    );
    Ok(())
}

#[test]
fn a_schema_the_lowering_refuses_cannot_be_compared() -> anyhow::Result<()> {
    let swagger = inline_schema("swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n");
    let good = inline_schema(BEFORE);
    let comparison = compare(&swagger, &good, &[], &Default::default());
    let Comparison::CannotCompare(refused) = &comparison else {
        anyhow::bail!("compared a Swagger 2.0 document: {comparison:?}");
    };
    assert_eq!(refused.side, "old");
    assert!(
        refused.diagnostics.iter().any(|d| d.contains("#/swagger")),
        "{:?}",
        refused.diagnostics
    );
    let markdown = comparison.to_markdown();
    assert!(
        markdown.contains("Cannot compare: the older schema (fixture)"),
        "{markdown}"
    );
    let json: serde_json::Value = serde_json::from_str(&comparison.to_json())?;
    assert_eq!(json["cannot_compare"]["side"], "old");

    // An overlay that matches nothing in the older schema is a diagnostic naming the overlay
    // file and action, as `regenerate` would report it.
    let old = shared_schema("posthog-2023-11.yaml")?;
    let new = shared_schema("posthog-2025.json")?;
    let comparison = compare(&old, &new, &overlays()?, &Default::default());
    let Comparison::CannotCompare(refused) = &comparison else {
        anyhow::bail!("the 2025 overlays applied to the 2023-11 schema");
    };
    assert!(
        refused
            .diagnostics
            .iter()
            .any(|d| d.contains("schema/overlays/")),
        "{:?}",
        refused.diagnostics
    );
    // `regenerate` and `fetch-schema` then compare both sides as published, and say so.
    let review = xtask::changelog::review(&old, &new, &overlays()?, &Default::default());
    assert!(review.starts_with("The overlays do not apply to the older schema"));
    assert!(review.contains("## Operations"));
    Ok(())
}

#[test]
fn json_output_carries_every_change() -> anyhow::Result<()> {
    let old = shared_schema("posthog-2023-02.yaml")?;
    let new = shared_schema("posthog-2023-11.yaml")?;
    let log = changelog(&old, &new, &[])?;
    let json: serde_json::Value = serde_json::from_str(&to_json(&log))?;
    assert_eq!(json["breaking"], log.breaking);
    assert_eq!(json["compatible"], log.compatible);
    let capture = &json["modules"]["capture"][0];
    assert_eq!(capture["method"], "POST");
    assert_eq!(capture["module"], "capture");
    assert_eq!(capture["changes"][0]["kind"], "operation_added");
    assert_eq!(capture["changes"][0]["severity"], "compatible");
    // The same input gives the same bytes.
    assert_eq!(to_json(&log), to_json(&changelog(&old, &new, &[])?));
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
    let log = changelog(&inline_schema(BEFORE), &inline_schema(AFTER), &[])?;
    let severity_of = |kind: ChangeKind, name: &str| -> Vec<Severity> {
        log.changes()
            .filter(|c| c.kind == kind && c.name == name)
            .map(|c| c.severity)
            .collect()
    };
    use ChangeKind::*;
    use Severity::*;
    // A renamed path parameter is the same operation and the same (positional) argument.
    assert!(log.operation("GET", "/api/things/{thing_id}/").is_some());
    assert_eq!(severity_of(ParameterAdded, "id"), []);
    assert_eq!(severity_of(ParameterAdded, "thing_id"), []);
    assert_eq!(severity_of(ParameterMadeRequired, "search"), [Breaking]);
    assert_eq!(severity_of(ParameterAdded, "limit"), [Compatible]);
    // `mode`'s inline enum is a type of its own in the crate.
    let mode = log
        .type_changes("ThingsRetrieveMode")
        .ok_or_else(|| anyhow::anyhow!("no changes for ThingsRetrieveMode"))?;
    assert_eq!(mode.usage, Usage::Request);
    let kinds: Vec<(ChangeKind, Severity)> =
        mode.changes.iter().map(|c| (c.kind, c.severity)).collect();
    assert_eq!(
        kinds,
        [(EnumValueAdded, Compatible), (EnumValueRemoved, Breaking)]
    );
    // Thing is read and written: a new required read-only field only travels in answers.
    assert_eq!(severity_of(FieldAdded, "created"), [Compatible]);
    // name may now be null: a reader can no longer rely on it.
    assert_eq!(severity_of(FieldMadeNullable, "name"), [Breaking]);
    assert_eq!(severity_of(FieldRemoved, "legacy"), [Breaking]);
    // PatchedThing is request-only: a field made required breaks writers, a new optional one
    // does not.
    assert_eq!(severity_of(FieldMadeRequired, "name"), [Breaking]);
    assert_eq!(severity_of(FieldAdded, "note"), [Compatible]);
    assert_eq!(
        log.type_changes("KindEnum").map(|t| t.usage),
        Some(Usage::Both)
    );
    assert_eq!(
        log.type_changes("PatchedThing").map(|t| t.usage),
        Some(Usage::Request)
    );

    // `new` is a name the crate already uses (`Routes::new`): the tag's module is `new_tag`.
    let old_module = log.modules.get("old").map(|ops| ops[0].changes[0].kind);
    assert_eq!(old_module, Some(OperationRemoved));
    let new_module = log.modules.get("new_tag").map(|ops| ops[0].changes[0].kind);
    assert_eq!(new_module, Some(OperationAdded));

    insta::assert_snapshot!("changelog_fixture", to_markdown(&log));
    Ok(())
}

/// `regenerate --skip-unsupported` reviews a schema change with the options it generated with:
/// a schema holding an operation the generator leaves out is compared, not refused as one the
/// generator "would refuse" right after it generated from it.
#[test]
fn the_review_lowers_with_the_options_the_generator_ran_with() -> anyhow::Result<()> {
    let path = xtask::workspace_root().join("codegen/tests/fixtures/skip_unsupported.yaml");
    let bytes = std::fs::read(path)?;
    let options = posthog_codegen::Options::from_fixture(&bytes).map_err(anyhow::Error::msg)?;
    assert!(options.skip_unsupported);
    let old = Schema::new("old", bytes.clone());
    let new = Schema::new("new", bytes);
    let by_default = xtask::changelog::review(&old, &new, &[], &Default::default());
    assert!(by_default.contains("Cannot compare"), "{by_default}");
    let review = xtask::changelog::review(&old, &new, &[], &options);
    assert!(!review.contains("Cannot compare"), "{review}");
    assert!(review.starts_with("# API changelog"), "{review}");
    Ok(())
}
