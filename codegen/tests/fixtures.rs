//! Fixture schemas, one per drf-spectacular quirk (see `fixtures/README.md`): each generates,
//! its output is snapshotted, and a few assertions pin the behaviour the fixture exists for.
//!
//! The assertions read the IR where they can, so that a change of formatting shows up in the
//! snapshots (for review) without breaking them; text checks are kept for what only the emitted
//! code shows (raw identifiers, companion methods, request encoding calls).

mod support;

use posthog_codegen::Output;
use posthog_codegen::ir::{
    AlternateResponse, BodyEncoding, Field, Operation, PaginationStyle, Response, TypeKind, TypeRef,
};
use posthog_codegen::report::pass;
use support::{concatenated, fixtures_dir, generate_ok_with, read};

/// Generates `fixtures/<name>.yaml`, snapshots every file it produces (after the report, so a
/// reviewer sees which passes fired) and returns the output for the fixture's own assertions.
fn fixture(name: &str) -> Fixture {
    let bytes = read(&fixtures_dir().join(format!("{name}.yaml")));
    // A fixture names the `regenerate` flags it needs in a `# regenerate flags:` line, which
    // `cargo xtask check-outputs` reads too.
    let options = posthog_codegen::Options::from_fixture(&bytes)
        .unwrap_or_else(|error| panic!("{name}.yaml: {error}"));
    let output = generate_ok_with(
        &format!("codegen/tests/fixtures/{name}.yaml"),
        &bytes,
        &options,
    );
    let mut snapshot = String::from("// ---- report ----\n");
    for line in output.report.to_string().lines() {
        snapshot.push_str(&format!("// {}\n", line.trim_end()));
    }
    snapshot.push_str(&concatenated(&output));
    insta::assert_snapshot!(name, snapshot);
    Fixture { output }
}

/// One fixture's output with the lookups its assertions share.
struct Fixture {
    output: Output,
}

impl Fixture {
    /// How many places a pass touched.
    fn count(&self, pass: &str) -> usize {
        self.output.report.count(pass)
    }

    /// A named type's definition.
    fn kind(&self, name: &str) -> &TypeKind {
        match self.output.api.types.get(name) {
            Some(def) => &def.kind,
            None => panic!(
                "no type `{name}` among {:?}",
                self.output.api.types.keys().collect::<Vec<_>>()
            ),
        }
    }

    /// A struct field, by wire name.
    fn field(&self, owner: &str, wire_name: &str) -> &Field {
        let TypeKind::Struct { fields } = self.kind(owner) else {
            panic!("`{owner}` is not a struct: {:?}", self.kind(owner))
        };
        fields
            .iter()
            .find(|f| f.wire_name == wire_name)
            .unwrap_or_else(|| panic!("`{owner}` has no field `{wire_name}`"))
    }

    /// An operation, by `operationId`.
    fn op(&self, id: &str) -> &Operation {
        self.output
            .api
            .operations
            .iter()
            .find(|op| op.id == id)
            .unwrap_or_else(|| panic!("no operation `{id}`"))
    }

    /// The variants of a string enum as `(rust name, wire value)`, and its fallback's name.
    fn string_enum(&self, name: &str) -> (Vec<(&str, &str)>, &str) {
        match self.kind(name) {
            TypeKind::StringEnum { variants, fallback } => (
                variants
                    .iter()
                    .map(|v| (v.name.as_str(), v.value.as_str()))
                    .collect(),
                fallback.as_str(),
            ),
            other => panic!("`{name}` is not a string enum: {other:?}"),
        }
    }

    /// Asserts that a generated file contains `needle`, showing the file on failure.
    fn has(&self, path: &str, needle: &str) {
        let text = self.output.files.get(path).unwrap_or_else(|| {
            panic!(
                "no generated {path} among {:?}",
                self.output.files.keys().collect::<Vec<_>>()
            )
        });
        assert!(text.contains(needle), "{path} lacks `{needle}`:\n{text}");
    }

    /// Asserts that some generated file contains `needle`.
    fn has_anywhere(&self, needle: &str) {
        assert!(
            self.output.files.values().any(|text| text.contains(needle)),
            "no generated file contains `{needle}`"
        );
    }
}

fn named(name: &str) -> TypeRef {
    TypeRef::Named(name.to_owned())
}

fn option(ty: TypeRef) -> TypeRef {
    TypeRef::Option(Box::new(ty))
}

#[test]
fn blank_null_enum() {
    let f = fixture("blank_null_enum");
    assert_eq!(f.count(pass::FOLD_BLANK_NULL_ENUM), 3);
    // Choice, blank or null: one optional enum whose blank is a variant.
    assert_eq!(f.field("Widget", "color").ty, option(named("ColorEnum")));
    let (color, fallback) = f.string_enum("ColorEnum");
    assert_eq!(color, [("Red", "red"), ("Green", "green"), ("Blank", "")]);
    assert_eq!(fallback, "Other");
    // Choice or null: optional, and no blank variant appears.
    assert_eq!(f.field("Widget", "size").ty, option(named("SizeEnum")));
    assert!(
        f.string_enum("SizeEnum")
            .0
            .iter()
            .all(|(_, value)| !value.is_empty())
    );
    // Choice or blank, required: the enum itself.
    assert_eq!(f.field("Widget", "shape").ty, named("ShapeEnum"));
    assert!(f.string_enum("ShapeEnum").0.contains(&("Blank", "")));
}

#[test]
fn allof_wrapper() {
    let f = fixture("allof_wrapper");
    assert_eq!(f.count(pass::UNWRAP_SINGLE_ALLOF), 3);
    assert_eq!(f.count(pass::MERGE_ALLOF), 1);
    // readOnly: optional so requests can leave it out, never sent as null.
    let created_by = f.field("Note", "created_by");
    assert_eq!(created_by.ty, option(named("UserBasic")));
    assert!(!created_by.serialize_null);
    // Required and nullable: optional, sent as `null`.
    let reviewer = f.field("Note", "reviewer");
    assert_eq!(reviewer.ty, option(named("UserBasic")));
    assert!(reviewer.serialize_null);
    // A bare wrapper is the referenced type, no alias in between.
    assert_eq!(f.field("Note", "owner").ty, named("UserBasic"));
    // Several members merge into one struct with every member's fields.
    let TypeKind::Struct { fields } = f.kind("NoteDetail") else {
        panic!("NoteDetail is not a struct")
    };
    let names: Vec<&str> = fields.iter().map(|f| f.wire_name.as_str()).collect();
    assert_eq!(names, ["id", "email", "role"]);
}

#[test]
fn open_enums() {
    let f = fixture("open_enums");
    // `+` and `-` give different variants.
    let (timezones, _) = f.string_enum("TimezoneEnum");
    let plus = timezones
        .iter()
        .find(|(_, value)| *value == "Etc/GMT+1")
        .map(|(name, _)| *name);
    let minus = timezones
        .iter()
        .find(|(_, value)| *value == "Etc/GMT-1")
        .map(|(name, _)| *name);
    assert!(
        plus.is_some() && minus.is_some() && plus != minus,
        "{timezones:?}"
    );
    // A value spelled `other` keeps its name; the fallback moves aside.
    let (kinds, fallback) = f.string_enum("KindEnum");
    assert!(kinds.contains(&("Other", "other")), "{kinds:?}");
    assert!(
        kinds.iter().all(|(name, _)| *name != fallback),
        "fallback `{fallback}` collides: {kinds:?}"
    );
    assert!(
        kinds.contains(&("DollarPageview", "$pageview")),
        "{kinds:?}"
    );
    // Integer enums are open too, negative values included.
    let TypeKind::IntegerEnum { variants, .. } = f.kind("RetentionEnum") else {
        panic!("RetentionEnum")
    };
    assert!(variants.iter().any(|v| v.value == -1));
    assert!(matches!(
        f.kind("SettingsPartialUpdateInterval"),
        TypeKind::IntegerEnum { .. }
    ));
    // Mixed value types stay raw JSON; an inline `null` choice makes the field optional.
    assert_eq!(f.count(pass::MIXED_ENUM_AS_JSON), 1);
    assert_eq!(f.field("Settings", "hog_mode").ty, option(TypeRef::Json));
    assert_eq!(f.count(pass::NULL_IN_ENUM), 1);
    assert_eq!(
        f.field("Settings", "period").ty,
        option(named("SettingsPeriod"))
    );
}

#[test]
fn unions() {
    let f = fixture("unions");
    let TypeKind::TaggedUnion { tag, variants } = f.kind("Shape") else {
        panic!("Shape is not tagged")
    };
    assert_eq!(tag, "shape_type");
    let tags: Vec<(&str, &[String])> = variants
        .iter()
        .map(|v| (v.name.as_str(), v.tags.as_slice()))
        .collect();
    assert_eq!(
        tags,
        [
            ("Circle", &["circle".to_owned()][..]),
            ("Square", &["square".to_owned()][..]),
            ("Triangle", &["Triangle".to_owned()][..]),
        ]
    );
    // pydantic: an untagged union whose members carry strict single-value literals.
    assert_eq!(f.count(pass::LITERAL_TAG), 2);
    assert!(
        matches!(f.kind("EventsQueryKind"), TypeKind::Literal { value } if value == "EventsQuery")
    );
    assert_eq!(f.field("EventsQuery", "kind").ty, named("EventsQueryKind"));
    let TypeKind::UntaggedUnion { variants, fallback } = f.kind("QueryRequestQuery") else {
        panic!("QueryRequestQuery")
    };
    let members: Vec<&TypeRef> = variants.iter().map(|v| &v.ty).collect();
    assert_eq!(members, [&named("EventsQuery"), &named("HogQlQuery")]);
    assert_eq!(fallback, "Other");
    // A free-form member listed first would match everything: it becomes the fallback, last.
    assert_eq!(f.count(pass::JSON_MEMBER_AS_FALLBACK), 1);
    let TypeKind::UntaggedUnion { variants, fallback } = f.kind("QueryRequestResponse") else {
        panic!("QueryRequestResponse")
    };
    let members: Vec<&TypeRef> = variants.iter().map(|v| &v.ty).collect();
    assert_eq!(members, [&named("HogQlQuery")]);
    assert_eq!(fallback, "Object");
    // A type no operation uses compiles with `unreferenced_types`, and so does every type it
    // names, beside the tag features of the operations that use those.
    let features = posthog_codegen::emit::features::type_features(&f.output.api);
    let of = |name: &str| -> Vec<&str> { features[name].iter().map(String::as_str).collect() };
    assert_eq!(of("SavedQuery"), ["unreferenced_types"]);
    assert_eq!(of("HogQlQuery"), ["query", "unreferenced_types"]);
    assert_eq!(of("EventsQuery"), ["query"]);
}

#[test]
fn recursion() {
    let f = fixture("recursion");
    // Through Option: boxed. Through Vec or a map: the allocation already breaks the cycle.
    assert_eq!(
        f.field("Node", "parent").ty,
        option(TypeRef::Boxed(Box::new(named("Node"))))
    );
    assert_eq!(
        f.field("Node", "children").ty,
        TypeRef::Vec(Box::new(named("Node")))
    );
    assert_eq!(
        f.field("Node", "by_name").ty,
        option(TypeRef::Map(Box::new(named("Node"))))
    );
    // Node holds PropertyGroup, which does not hold Node back: no box.
    assert_eq!(f.field("Node", "group").ty, option(named("PropertyGroup")));
    // Mutual recursion PropertyGroup -> GroupOrFilter -> PropertyGroup: boxed on the cycle.
    assert_eq!(
        f.field("PropertyGroup", "first").ty,
        TypeRef::Boxed(Box::new(named("GroupOrFilter")))
    );
    assert!(f.count(pass::BOX_RECURSION) >= 2);
}

#[test]
fn naming() {
    let f = fixture("naming");
    // Components colliding after case conversion: the first keeps the name.
    assert!(matches!(f.kind("FooBar"), TypeKind::Struct { fields } if fields[0].wire_name == "a"));
    assert!(
        matches!(f.kind("FooBarSchema"), TypeKind::Struct { fields } if fields[0].wire_name == "b")
    );
    // Keywords and prelude names as components.
    for name in ["Match", "SelfValue", "OptionSchema"] {
        f.kind(name);
    }
    // Keywords as fields: raw identifiers where Rust allows, a trailing `_` where not.
    assert_eq!(f.field("Match", "type").rust_name, "type");
    assert_eq!(f.field("Match", "self").rust_name, "self_");
    assert_eq!(f.field("Match", "$set").rust_name, "dollar_set");
    assert_eq!(f.field("Match", "2fa").rust_name, "n2fa");
    assert_ne!(
        f.field("Match", "Self").rust_name,
        f.field("Match", "self").rust_name
    );
    f.has("types/type.rs", "pub r#type: String,");
    f.has("types/type.rs", "pub r#match: Option<String>,");
    f.has("types/type.rs", "#[serde(rename = \"$set\"");
    // Keywords as parameters and as a tag (module and feature).
    f.has("api/type.rs", "r#type: &str");
    f.has("api/type.rs", ".query(\"match\", &query.r#match)");
    f.has("api/mod.rs", "pub mod r#type;");
    // `query` is the name of the query-struct argument, so a parameter named so moves aside.
    f.has("api/type.rs", ".query(\"query\", &query.query_param)");
    // operationIds colliding after snake-casing: both methods exist, the second renamed.
    assert_eq!(f.op("foo_bar_list").method_name, "foo_bar_list");
    assert_eq!(f.op("fooBarList").method_name, "foo_bar_list_op");
    assert!(f.count(pass::RENAME) >= 4);
}

#[test]
fn request_bodies() {
    let f = fixture("request_bodies");
    assert_eq!(f.count(pass::PICK_JSON_BODY), 2);
    assert_eq!(f.count(pass::MULTIPART_ONLY_BODY), 1);
    let create = f
        .op("annotations_create")
        .body
        .as_ref()
        .expect("annotations_create has a body");
    assert_eq!(
        (create.encoding, create.required),
        (BodyEncoding::Json, true)
    );
    assert_eq!(create.ty, named("Annotation"));
    let upload = f
        .op("uploaded_media_create")
        .body
        .as_ref()
        .expect("uploaded_media_create has a body");
    assert_eq!(upload.encoding, BodyEncoding::Multipart);
    assert_eq!(upload.file_fields, ["image"]);
    let patch = f
        .op("annotations_partial_update")
        .body
        .as_ref()
        .expect("partial update has a body");
    assert!(!patch.required);
    // Every member of a Patched body is optional: it is taken by reference and always sent.
    f.has("api/annotations.rs", "body: &types::PatchedAnnotation");
    f.has("api/annotations.rs", ".json(body)");
    // A free-form optional body stays optional.
    f.has(
        "api/annotations.rs",
        "body: Option<&std::collections::BTreeMap<String, serde_json::Value>>",
    );
    // Optional nullable fields of types requests use are three-state; readOnly ones are not,
    // and a request-only type has none; types only answers use keep `Option`.
    let nullable_string = TypeRef::Nullable(Box::new(TypeRef::String));
    assert_eq!(f.field("Annotation", "content").ty, nullable_string);
    assert_eq!(f.field("PatchedAnnotation", "content").ty, nullable_string);
    assert_eq!(
        f.field("Annotation", "deleted_at").ty,
        TypeRef::Option(Box::new(TypeRef::DateTime))
    );
    let TypeKind::Struct { fields } = f.kind("PatchedAnnotation") else {
        panic!("PatchedAnnotation is a struct");
    };
    let names: Vec<&str> = fields
        .iter()
        .map(|field| field.wire_name.as_str())
        .collect();
    assert_eq!(names, ["content"]);
    assert_eq!(f.count(pass::READ_ONLY_IN_REQUEST), 2);
    assert_eq!(f.count(pass::THREE_STATE_FIELD), 2);
    assert_eq!(
        f.field("UploadedMediaCreateResponse", "expires_at").ty,
        TypeRef::Option(Box::new(TypeRef::DateTime))
    );
    f.has("api/uploaded_media.rs", ".multipart(body, &[\"image\"])");
    // A `format: binary` member is a file part (bytes, file name, content type), not a String.
    assert_eq!(
        f.field("UploadedMediaCreateBody", "image").ty,
        TypeRef::File
    );
    f.has(
        "api/uploaded_media.rs",
        ".file_part(\"image\", &body.image)",
    );
    // `*/*` is sent as JSON.
    let any = f
        .op("annotations_notify_create")
        .body
        .as_ref()
        .expect("notify has a body");
    assert_eq!(any.encoding, BodyEncoding::Json);
}

#[test]
fn responses() {
    let f = fixture("responses");
    assert_eq!(f.op("exports_destroy").response, Response::Empty);
    assert_eq!(
        f.op("exports_touch_create").response,
        Response::Undocumented
    );
    assert_eq!(f.count(pass::UNDOCUMENTED_RESPONSE), 1);
    let content = f.op("exports_content_retrieve");
    assert_eq!(content.response, Response::Json(named("Export")));
    assert_eq!(content.alternate_responses, [AlternateResponse::Csv]);
    assert_eq!(
        content.companions.csv.as_deref(),
        Some("exports_content_retrieve_csv")
    );
    let stream = f.op("exports_stream_retrieve");
    assert_eq!(stream.alternate_responses, [AlternateResponse::EventStream]);
    assert_eq!(
        stream.companions.event_stream.as_deref(),
        Some("exports_stream_retrieve_event_stream")
    );
    assert_eq!(f.count(pass::ALTERNATE_MEDIA), 2);
    assert_eq!(f.op("exports_csv_retrieve").response, Response::Text);
    assert_eq!(
        f.op("exports_events_retrieve").response,
        Response::EventStream
    );
    f.has("api/exports.rs", "-> Result<()>");
    f.has("api/exports.rs", "-> Result<serde_json::Value>");
    f.has("api/exports.rs", "-> Result<crate::stream::ByteStream>");
}

#[test]
fn pagination() {
    let f = fixture("pagination");
    assert_eq!(f.count(pass::PAGINATION), 4);
    let cohorts = f
        .op("cohorts_list")
        .pagination
        .as_ref()
        .expect("cohorts_list pages");
    assert_eq!(
        (cohorts.style, &cohorts.item),
        (PaginationStyle::LimitOffset, &named("Cohort"))
    );
    let recordings = f
        .op("session_recordings_list")
        .pagination
        .as_ref()
        .expect("recordings page");
    assert_eq!(
        (recordings.style, &recordings.item),
        (PaginationStyle::Cursor, &named("Recording"))
    );
    // Declaring `cursor` beside `offset` keeps resuming by offset.
    let style = |id: &str| f.op(id).pagination.as_ref().map(|p| p.style);
    assert_eq!(style("persons_list"), Some(PaginationStyle::OffsetOrCursor));
    assert_eq!(style("cohorts_activity"), Some(PaginationStyle::PageNumber));
    f.has("api/cohorts.rs", "crate::pagination::Pages<types::Cohort>");
    f.has("api/cohorts.rs", "pub fn cohorts_list_stream(");
    f.has(
        "api/session_recordings.rs",
        "crate::pagination::PaginationStyle::Cursor",
    );
}

#[test]
fn maps_formats() {
    let f = fixture("maps_formats");
    let field = |name: &str| f.field("Event", name).ty.clone();
    assert_eq!(field("id"), TypeRef::Uuid);
    assert_eq!(field("timestamp"), TypeRef::DateTime);
    assert_eq!(field("day"), option(TypeRef::Date));
    assert_eq!(field("properties"), TypeRef::Map(Box::new(TypeRef::Json)));
    assert_eq!(
        field("counts"),
        option(TypeRef::Map(Box::new(TypeRef::I64)))
    );
    assert_eq!(
        field("labels"),
        option(TypeRef::Map(Box::new(TypeRef::Vec(Box::new(
            TypeRef::String
        )))))
    );
    assert_eq!(field("small"), option(TypeRef::I32));
    assert_eq!(field("big"), option(TypeRef::I64));
    assert_eq!(field("positive"), option(TypeRef::U32));
    assert_eq!(field("positive_big"), option(TypeRef::U64));
    assert_eq!(field("signed"), option(TypeRef::I32));
    assert_eq!(field("ratio"), option(TypeRef::F64));
    // Query parameters: formats, and arrays repeated or comma-joined as `explode` says.
    let query = &f.op("events_retrieve").query_params;
    assert_eq!(query[0].ty, option(TypeRef::DateTime));
    assert_eq!(query[1].ty, option(TypeRef::Date));
    f.has("api/events.rs", ".query(\"properties\", &query.properties)");
    f.has("api/events.rs", ".query_csv(\"ids\", &query.ids)");
    assert_eq!(f.op("events_retrieve").path_params[1].ty, TypeRef::Uuid);
}

#[test]
fn environments() {
    let f = fixture("environments");
    // The twin joins its projects counterpart's tag; its duplicate tags are collapsed.
    assert_eq!(f.op("environments_batch_exports_list").tag, "batch_exports");
    assert_eq!(f.count(pass::ENVIRONMENT_TWIN), 1);
    assert_eq!(f.count(pass::PRIMARY_TAG), 1);
    // A tag after `environments` wins; with neither, `environments` stays.
    assert_eq!(f.op("environments_query_create").tag, "query");
    assert_eq!(f.op("environments_persons_list").tag, "environments");
    f.has(
        "api/batch_exports.rs",
        "pub async fn environments_batch_exports_list(",
    );
    f.has_anywhere("pub mod environments;");
}

#[test]
fn empty_allof() {
    let f = fixture("empty_allof");
    assert_eq!(f.count(pass::EMPTY_ALLOF), 6);
    // Nothing to constrain: free-form JSON wherever it appears, never a type of its own.
    assert_eq!(
        f.kind("Anything"),
        &TypeKind::Alias {
            target: TypeRef::Json
        }
    );
    assert_eq!(f.field("Thing", "inline").ty, TypeRef::Json);
    assert_eq!(
        f.field("Thing", "items").ty,
        option(TypeRef::Vec(Box::new(TypeRef::Json)))
    );
    assert_eq!(f.field("Thing", "named").ty, option(named("Anything")));
    let body = f.op("things_create").body.as_ref().expect("a body");
    assert_eq!(body.ty, TypeRef::Json);
    let TypeKind::UntaggedUnion { variants, fallback } = f.kind("ThingEither") else {
        panic!("ThingEither is not a union")
    };
    assert_eq!(variants.len(), 1);
    assert_eq!(fallback, "Object");
}

#[test]
fn reserved_names() {
    let f = fixture("reserved_names");
    // Tags that are the crate's own features, `Routes` methods or crate names get a suffix, so
    // no feature is declared twice and no module shadows a crate.
    assert_eq!(
        f.output.features,
        [
            "clone",
            "default_tag",
            "empty_tag",
            "full_tag",
            "into_router_tag",
            "merge_tag",
            "methods",
            "mount_tag",
            "new_tag",
            "rate_limit_tag",
            "serde_json_tag",
            "serve_tag",
            "server_tag",
            "std_tag",
            "unreferenced_types_tag",
        ]
    );
    assert_eq!(f.op("untagged_list").tag, "default");
    f.has(
        "server/mod.rs",
        "pub fn default_tag<S: default_tag::DefaultTagApi>(",
    );
    // Prelude names the macros and derives use unqualified are never taken by a schema type.
    for name in [
        "OkSchema",
        "ErrSchema",
        "SomeSchema",
        "NoneSchema",
        "OptionSchema",
        "ResultSchema",
        "VecSchema",
        "StringSchema",
        "BoxSchema",
        "ValueSchema",
        "DefaultSchema",
        "CloneSchema",
        "IntoSchema",
    ] {
        f.kind(name);
    }
    // operationIds that are `Client` methods, trait methods or the operation table's statics.
    let method = |id: &str| f.op(id).method_name.clone();
    assert_eq!(method("all"), "all_op");
    assert_eq!(method("throttle_limits"), "throttle_limits_op");
    assert_eq!(method("builder"), "builder_op");
    assert_eq!(method("clone"), "clone_op");
    assert_eq!(method("new"), "new_op");
    // Path parameters the server's route closure binds beside them.
    let params: Vec<&str> = f
        .op("clone")
        .path_params
        .iter()
        .map(|p| p.rust_name.as_str())
        .collect();
    assert_eq!(params, ["s_param", "cx_param"]);
    // A query type named like the trait the server implements for it.
    f.has("server/methods.rs", "impl d::FromQuery for FromQuery {");
}

/// Every generated file without its `@generated` line (which names the source and its hash).
fn without_headers(output: &Output) -> Vec<(String, String)> {
    output
        .files
        .iter()
        .map(|(path, text)| {
            let body = text.split_once('\n').map_or("", |(_, rest)| rest);
            (path.clone(), body.to_owned())
        })
        .collect()
}

#[test]
fn openapi31() {
    let f = fixture("openapi31");
    let twin = fixture("openapi31_as_30");
    // The same API written as drf-spectacular writes 3.1 and as it writes 3.0: the same code.
    assert_eq!(without_headers(&f.output), without_headers(&twin.output));
    for (pass, count) in [
        (pass::OAS31_TYPE_ARRAY, 5),
        (pass::OAS31_NULL_MEMBER, 3),
        (pass::OAS31_NULL_TYPE, 1),
        (pass::OAS31_EXCLUSIVE_BOUND, 3),
        (pass::OAS31_CONST, 1),
        (pass::OAS31_EXAMPLES, 2),
        (pass::OAS31_REF_SIBLINGS, 1),
        (pass::OAS31_BOOLEAN_SCHEMA, 1),
        (pass::OAS31_UNUSED_MEMBER, 4),
    ] {
        assert_eq!(f.count(pass), count, "{pass}: {}", f.output.report);
        assert_eq!(twin.count(pass), 0, "{pass} on the 3.0 twin");
    }
    assert_eq!(f.field("Widget", "nickname").ty, option(TypeRef::String));
    assert_eq!(f.field("Widget", "owner").ty, option(named("User")));
    assert_eq!(f.field("Widget", "parent").ty, named("User"));
    assert_eq!(f.field("Widget", "color").ty, option(named("ColorEnum")));
    assert_eq!(f.field("Widget", "kind").ty, named("WidgetKind"));
}

#[test]
fn allof_members() {
    let f = fixture("allof_members");
    assert_eq!(
        f.kind("Slug"),
        &TypeKind::Alias {
            target: TypeRef::String
        }
    );
    assert_eq!(f.field("Part", "quantity").ty, TypeRef::I32);
    // readOnly on a member refines nothing the field's presence depends on: only the wrapper's
    // own `readOnly` does, as with drf's one-member wrappers.
    assert_eq!(f.field("Part", "status").ty, named("StatusEnum"));
    assert_eq!(f.field("Part", "note").ty, option(TypeRef::Json));
    // The shapes as lowered (`own_shape`): `PartBase` has `Root`'s shape, so it is emitted as
    // an alias of `Root`.
    let wires = |name: &str| -> Vec<String> {
        match f.output.api.own_shape(name) {
            Some(TypeKind::Struct { fields }) => {
                fields.iter().map(|f| f.wire_name.clone()).collect()
            }
            other => panic!("`{name}` is not a struct: {other:?}"),
        }
    };
    assert_eq!(wires("PartBase"), ["id"]);
    assert_eq!(
        f.kind("PartBase"),
        &TypeKind::Alias {
            target: named("Root")
        }
    );
    assert_eq!(wires("PartNested"), ["id", "inner", "outer"]);
    assert_eq!(f.field("PartNested", "outer").ty, TypeRef::Bool);
    // A reference to a component that is itself an allOf brings that component's members.
    assert_eq!(wires("Middle"), ["id", "middle"]);
    assert_eq!(wires("Extended"), ["id", "middle", "extra"]);
    assert_eq!(f.count(pass::ALLOF_ANNOTATION_MEMBER), 3);
    assert_eq!(f.count(pass::NESTED_ALLOF), 2);
}

#[test]
fn external_refs() {
    let f = fixture("external_refs");
    assert_eq!(f.count(pass::EXTERNAL_REF_AS_JSON), 3);
    assert_eq!(f.field("Place", "point").ty, TypeRef::Json);
    assert_eq!(f.field("Place", "area").ty, option(TypeRef::Json));
    let body = f.op("places_create").body.as_ref().expect("a body");
    assert_eq!(body.ty, TypeRef::Json);
    // Each is a warning in the report, with its pointer.
    let warnings: Vec<String> = f
        .output
        .report
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    assert!(
        warnings.iter().any(|w| w.starts_with(
            "#/components/schemas/Place/properties/point: `$ref: https://example.com/schemas/geo.json#/Point`"
        )),
        "{warnings:#?}"
    );
    assert!(f.output.report.to_string().contains("warning: "));
}

/// Without `--external-refs=json`, each external reference is a diagnostic naming where it is
/// and the flag that would accept it.
#[test]
fn external_refs_are_refused_by_default() {
    let bytes = read(&fixtures_dir().join("external_refs.yaml"));
    let diagnostics = support::generate("external_refs.yaml", &bytes)
        .expect_err("external references are refused by default");
    let pointers: Vec<&str> = diagnostics.0.iter().map(|d| d.pointer.as_str()).collect();
    assert_eq!(
        pointers,
        [
            "#/components/schemas/Place/properties/area/allOf/0",
            "#/components/schemas/Place/properties/point",
            "#/paths/~1api~1projects~1{project_id}~1places~1/post/requestBody/content/application~1json/schema",
        ]
    );
    for diagnostic in &diagnostics.0 {
        assert!(
            diagnostic.message.contains("another document")
                && diagnostic.message.contains("--external-refs=json"),
            "{diagnostic}"
        );
    }
}

#[test]
fn skip_unsupported() {
    let f = fixture("skip_unsupported");
    let skipped: Vec<(&str, &str)> = f
        .output
        .api
        .skipped
        .iter()
        .map(|s| (s.pointer.as_str(), s.operation.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                "#/paths/~1api~1projects~1{project_id}~1gone~1/get",
                "GET /api/projects/{project_id}/gone/ (gone_list)"
            ),
            (
                "#/paths/~1api~1projects~1{project_id}~1other~1",
                "/api/projects/{project_id}/other/"
            ),
            (
                "#/paths/~1api~1projects~1{project_id}~1things~1/post",
                "POST /api/projects/{project_id}/things/ (things_create)"
            ),
            (
                "#/paths/~1api~1projects~1{project_id}~1things~1import~1/post",
                "POST /api/projects/{project_id}/things/import/ (things_import_create)"
            ),
        ]
    );
    for skipped in &f.output.api.skipped {
        assert!(!skipped.reasons.is_empty());
        for reason in &skipped.reasons {
            assert!(reason.pointer.starts_with(&skipped.pointer), "{reason}");
        }
    }
    // The rest is generated; the skipped operation's inline types are not left behind.
    let ids: Vec<&str> = f
        .output
        .api
        .operations
        .iter()
        .map(|op| op.id.as_str())
        .collect();
    assert_eq!(ids, ["things_list"]);
    assert!(
        f.output
            .api
            .types
            .keys()
            .all(|name| !name.starts_with("ThingsImportCreate")),
        "{:?}",
        f.output.api.types.keys()
    );
    // Listed in the report and in the generated module docs, with pointer and reason.
    let report = f.output.report.to_string();
    assert!(report.contains("skipped 4 operations"), "{report}");
    assert!(report.contains("application/xml"), "{report}");
    f.has("api/mod.rs", "things_import_create");
    f.has("api/mod.rs", "does not name `{id}`");
    assert!(!f.output.files.contains_key("api/gone.rs"));
}

/// Without `--skip-unsupported`, the same schema fails as before, naming every problem.
#[test]
fn unsupported_operations_fail_by_default() {
    let bytes = read(&fixtures_dir().join("skip_unsupported.yaml"));
    let diagnostics = support::generate("skip_unsupported.yaml", &bytes)
        .expect_err("unsupported operations fail by default");
    assert!(diagnostics.0.len() >= 4, "{diagnostics}");
}

#[test]
fn header_cookie_params() {
    let f = fixture("header_cookie_params");
    let get = f.op("organizations_retrieve");
    // The path item's header comes first, then the operation's; typed like query parameters.
    let headers: Vec<(&str, &str, &TypeRef)> = get
        .header_params
        .iter()
        .map(|p| (p.wire_name.as_str(), p.rust_name.as_str(), &p.ty))
        .collect();
    assert_eq!(
        headers,
        [
            ("X-Organization", "x_organization", &TypeRef::String),
            ("If-None-Match", "if_none_match", &option(TypeRef::String)),
            (
                "If-Modified-Since",
                "if_modified_since",
                &option(TypeRef::String)
            ),
            (
                "X-Request-Ids",
                "x_request_ids",
                &option(TypeRef::Vec(Box::new(TypeRef::I64)))
            ),
        ]
    );
    // `Accept`, `Authorization` (OpenAPI: ignored) and `Host` (the client's own) are left out.
    assert_eq!(f.count(pass::IGNORED_HEADER_PARAM), 4);
    assert!(get.conditional);
    f.has(
        "api/organizations.rs",
        ".header(\"If-None-Match\", &query.if_none_match)",
    );
    f.has(
        "api/organizations.rs",
        "-> Result<crate::request::Conditional<types::Organization>>",
    );
    let patch = f.op("organizations_partial_update");
    assert!(!patch.conditional);
    let cookies: Vec<&str> = patch
        .cookie_params
        .iter()
        .map(|p| p.wire_name.as_str())
        .collect();
    assert_eq!(cookies, ["csrftoken", "sessionid", "theme"]);
    assert_eq!(patch.cookie_params[1].ty, option(TypeRef::String));
    f.has(
        "api/organizations.rs",
        ".cookie(\"csrftoken\", &query.csrftoken)",
    );
    f.has(
        "api/organizations.rs",
        ".header(\"X-CSRFToken\", &query.x_csrf_token)",
    );
    // The server reads them from the request's headers.
    f.has(
        "server/organizations.rs",
        "csrftoken: h.cookie(\"csrftoken\")?",
    );
    // A header's or a cookie's own enum compiles with the operation's tag, as a query
    // parameter's does.
    let features = posthog_codegen::emit::features::type_features(&f.output.api);
    let named_in = |params: &[posthog_codegen::ir::Param], wire: &str| -> String {
        let param = params.iter().find(|p| p.wire_name == wire).expect(wire);
        let mut names = Vec::new();
        param.ty.names(&mut names);
        names.first().map(|name| (*name).to_owned()).expect(wire)
    };
    for enum_type in [
        named_in(&patch.header_params, "X-Audit-Reason"),
        named_in(&patch.cookie_params, "theme"),
    ] {
        let of: Vec<&str> = features[enum_type.as_str()]
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(of, ["organizations"], "{enum_type}");
    }
}

#[test]
fn form_body() {
    let f = fixture("form_body");
    assert_eq!(f.count(pass::FORM_ONLY_BODY), 2);
    let login = f.op("login_create").body.as_ref().expect("a body");
    assert_eq!((login.encoding, login.required), (BodyEncoding::Form, true));
    assert_eq!(login.ty, named("Login"));
    f.has("api/login.rs", ".form(body)");
    f.has("api/login.rs", ".form_opt(body)");
    // With multipart beside it, multipart is kept (files need it).
    let avatar = f.op("login_avatar_create").body.as_ref().expect("a body");
    assert_eq!(avatar.encoding, BodyEncoding::Multipart);
    f.has("server/login.rs", "d::UrlEncoded(body)");
}

#[test]
fn media_types() {
    let f = fixture("media_types");
    // `+json` is JSON, sent and asked for under its own media type.
    let scim = f.op("scim_users_update");
    assert_eq!(scim.response, Response::Json(named("ScimUser")));
    assert_eq!(scim.accept.as_deref(), Some("application/scim+json"));
    let body = scim.body.as_ref().expect("a body");
    assert_eq!(body.encoding, BodyEncoding::Json);
    assert_eq!(body.media_type.as_deref(), Some("application/scim+json"));
    f.has("api/scim.rs", ".content_type(\"application/scim+json\")");
    f.has("api/scim.rs", ".accept(\"application/scim+json\")");
    // Plain `application/json` is preferred when offered beside a vendor type.
    let widgets = f.op("widgets_list");
    assert_eq!(widgets.accept, None);
    // Binary answers are bytes, asked for under their own media types.
    for id in [
        "exports_xlsx_retrieve",
        "exports_archive_retrieve",
        "exports_raw_retrieve",
    ] {
        assert_eq!(f.op(id).response, Response::Binary, "{id}");
    }
    assert_eq!(
        f.op("exports_archive_retrieve").accept.as_deref(),
        Some("application/zip, application/octet-stream")
    );
    assert_eq!(f.count(pass::BINARY_RESPONSE), 3);
    f.has("api/exports.rs", "-> Result<bytes::Bytes>");
    // `*/*` with a schema is JSON; `text/plain` is text asked for as such.
    assert_eq!(
        f.op("exports_any_retrieve").response,
        Response::Json(named("ScimUser"))
    );
    assert_eq!(f.op("exports_readme_retrieve").response, Response::Text);
    f.has("api/exports.rs", ".accept(\"text/plain\")");
}

#[test]
fn same_shape() {
    let f = fixture("same_shape");
    let alias_of = |name: &str| TypeKind::Alias {
        target: named(name),
    };
    // Copies of one inline union, of a union holding a copy (the second round), of an inline
    // enum and of a parameter's enum are aliases of the first by name.
    assert_eq!(
        f.kind("TrendsQueryPropertiesItem"),
        &alias_of("FunnelsQueryFilterGroupVariant0Item")
    );
    assert_eq!(
        f.kind("TrendsQueryFilterGroup"),
        &alias_of("FunnelsQueryFilterGroup")
    );
    assert_eq!(
        f.kind("TrendsQueryInterval"),
        &alias_of("FunnelsQueryInterval")
    );
    assert_eq!(
        f.kind("InsightsListOrder"),
        &alias_of("InsightsCreateOrder")
    );
    assert!(matches!(
        f.kind("FunnelsQueryFilterGroupVariant0Item"),
        TypeKind::UntaggedUnion { .. }
    ));
    // Components are names PostHog chose: the same members are still two types.
    assert!(matches!(f.kind("ActionFilter"), TypeKind::Struct { .. }));
    assert!(matches!(f.kind("EventFilter"), TypeKind::Struct { .. }));
    // Fields keep naming the copy, so the docs show the name the schema's place suggests.
    assert_eq!(
        f.field("TrendsQuery", "properties").ty,
        option(TypeRef::Vec(Box::new(named("TrendsQueryPropertiesItem"))))
    );
    f.has(
        "types/insights.rs",
        "/// Filters described their own way.\npub type TrendsQueryDescribed",
    );
    // A copy's member that only the copy named still compiles with the operations' feature.
    f.has(
        "types/insights.rs",
        "pub type TrendsQueryFilterGroupVariant0Item = FunnelsQueryFilterGroupVariant0Item;",
    );
    assert_eq!(f.kind("FunnelsQueryStatus"), &alias_of("QueryStatus"));
    assert_eq!(f.count(pass::SAME_SHAPE_INLINE_TYPE), 8);
}
