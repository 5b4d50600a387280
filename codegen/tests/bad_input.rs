//! Input the generator cannot use gets diagnostics, each with a JSON pointer to the place and a
//! message saying what was expected, and never a panic.

mod support;

use posthog_codegen::Input;
use posthog_codegen::diagnostic::{Diagnostic, Kind, Source};

/// A minimal valid document around `paths` and `schemas` (YAML fragments indented to fit).
fn document(paths: &str, schemas: &str) -> String {
    format!(
        "openapi: 3.0.3\ninfo:\n  title: bad input\n  version: 1.0.0\npaths:\n{paths}\ncomponents:\n  schemas:\n{schemas}\n"
    )
}

/// Runs the generator on `input`, failing the test if it panics or succeeds, and returns the
/// diagnostics.
fn diagnostics(input: &str) -> Vec<Diagnostic> {
    let result = std::panic::catch_unwind(|| support::generate("bad-input.yaml", input.as_bytes()));
    match result {
        Err(_) => panic!("the generator panicked on:\n{input}"),
        Ok(Ok(_)) => panic!("the generator accepted:\n{input}"),
        Ok(Err(diagnostics)) => {
            assert!(!diagnostics.0.is_empty(), "an error without diagnostics");
            diagnostics.0
        }
    }
}

/// Asserts that there is exactly one diagnostic, at `pointer`, whose message holds every one
/// of `words`.
fn assert_one(input: &str, pointer: &str, words: &[&str]) {
    let found = diagnostics(input);
    assert_eq!(found.len(), 1, "expected one diagnostic, got {found:#?}");
    let diagnostic = &found[0];
    assert_eq!(diagnostic.pointer, pointer, "{diagnostic}");
    for word in words {
        assert!(
            diagnostic.message.contains(word),
            "message lacks `{word}`: {diagnostic}"
        );
    }
}

#[test]
fn invalid_json() {
    assert_one(
        "{\"openapi\": \"3.0.3\",\n \"paths\": {,}}",
        "#",
        &["invalid JSON", "line 2"],
    );
}

#[test]
fn invalid_yaml() {
    assert_one(
        "openapi: 3.0.3\ninfo:\n  title: [unclosed\n",
        "#",
        &["invalid YAML", "line"],
    );
}

#[test]
fn not_utf8() {
    let result = support::generate("binary", &[0xff, 0xfe, 0x00]);
    let found = result.err().map(|d| d.0).unwrap_or_default();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].pointer, "#");
    assert!(found[0].message.contains("UTF-8"), "{}", found[0]);
}

#[test]
fn swagger_2() {
    assert_one(
        "swagger: '2.0'\ninfo:\n  title: old\n  version: '1'\npaths: {}\n",
        "#/swagger",
        &["Swagger 2.0", "OpenAPI 3.0"],
    );
}

#[test]
fn openapi_3_2() {
    assert_one(
        "openapi: 3.2.0\ninfo:\n  title: new\n  version: '1'\npaths: {}\n",
        "#/openapi",
        &["3.2.0", "3.0", "3.1"],
    );
}

/// 3.1 documents are converted to the 3.0 model; what the conversion cannot read is named.
#[test]
fn openapi_3_1_bad_type_list() {
    let input = "openapi: 3.1.0\ninfo:\n  title: new\n  version: '1'\npaths: {}\ncomponents:\n  schemas:\n    Odd:\n      type: [string, 42]\n";
    assert_one(
        input,
        "#/components/schemas/Odd/type/1",
        &["type", "string"],
    );
}

/// `allOf` members that cannot describe one value together: a string and an object.
#[test]
fn allof_of_a_primitive_and_an_object() {
    let input = document(
        "  {}",
        "    Odd:\n      allOf:\n        - type: string\n        - type: object\n          properties:\n            a:\n              type: string\n",
    );
    assert_one(
        &input,
        "#/components/schemas/Odd/allOf/0",
        &["allOf", "string", "object"],
    );
}

#[test]
fn missing_version() {
    assert_one(
        "info:\n  title: none\n  version: '1'\npaths: {}\n",
        "#/openapi",
        &["missing"],
    );
}

#[test]
fn top_level_is_not_an_object() {
    for input in ["[1, 2]", "just a string", "", "42", "[]"] {
        assert_one(input, "#", &["top level"]);
    }
}

#[test]
fn not_an_openapi_shape() {
    // `paths` must be a map; the pointer names the member that does not fit.
    assert_one(
        "openapi: 3.0.3\ninfo:\n  title: t\n  version: '1'\npaths: [1]\n",
        "#/paths",
        &["not a valid OpenAPI 3.0 document"],
    );
}

#[test]
fn dangling_ref_in_a_component() {
    let input = document(
        "  {}",
        "    Widget:\n      type: object\n      properties:\n        owner:\n          $ref: '#/components/schemas/User'\n",
    );
    assert_one(
        &input,
        "#/components/schemas/Widget/properties/owner",
        &["dangling", "#/components/schemas/User"],
    );
}

#[test]
fn dangling_ref_in_a_folded_one_of() {
    let input = document(
        "  {}",
        "    Widget:\n      type: object\n      properties:\n        color:\n          oneOf:\n            - $ref: '#/components/schemas/ColorEnum'\n            - $ref: '#/components/schemas/NullEnum'\n    NullEnum:\n      enum: [null]\n",
    );
    assert_one(
        &input,
        "#/components/schemas/Widget/properties/color/oneOf/0",
        &["dangling", "ColorEnum"],
    );
}

#[test]
fn dangling_ref_in_a_request_body() {
    let paths = "  /api/widgets/:\n    post:\n      operationId: widgets_create\n      requestBody:\n        content:\n          application/json:\n            schema:\n              $ref: '#/components/schemas/Nope'\n      responses:\n        '204':\n          description: No response body\n";
    assert_one(
        &document(paths, "    Unused:\n      type: string\n"),
        "#/paths/~1api~1widgets~1/post/requestBody/content/application~1json/schema",
        &["dangling", "Nope"],
    );
}

#[test]
fn ref_outside_components() {
    let input = document("  {}", "    Widget:\n      $ref: '#/definitions/Widget'\n");
    assert_one(
        &input,
        "#/components/schemas/Widget",
        &["not supported", "#/definitions/Widget"],
    );
}

/// A reference to another document is refused by default, naming the opt-in.
#[test]
fn ref_to_another_document() {
    let input = document("  {}", "    Widget:\n      $ref: 'other.yaml#/Widget'\n");
    assert_one(
        &input,
        "#/components/schemas/Widget",
        &[
            "another document",
            "other.yaml#/Widget",
            "--external-refs=json",
        ],
    );
}

#[test]
fn path_placeholder_without_parameter() {
    let paths = "  /api/widgets/{id}/:\n    get:\n      operationId: widgets_retrieve\n      responses:\n        '204':\n          description: No response body\n";
    assert_one(
        &document(paths, "    Unused:\n      type: string\n"),
        "#/paths/~1api~1widgets~1{id}~1/get",
        &["{id}", "no path parameter"],
    );
}

#[test]
fn unsupported_request_body_media_type() {
    let paths = "  /api/widgets/:\n    post:\n      operationId: widgets_create\n      requestBody:\n        content:\n          application/xml:\n            schema:\n              type: string\n      responses:\n        '204':\n          description: No response body\n";
    assert_one(
        &document(paths, "    Unused:\n      type: string\n"),
        "#/paths/~1api~1widgets~1/post/requestBody",
        &["application/xml", "application/json"],
    );
}

#[test]
fn header_and_cookie_names_that_are_not_tokens() {
    // A name that could end the header and start another, or add a cookie, from a hostile
    // schema: refused at generation, naming the parameter.
    for (place, name) in [
        ("header", "\"X-Team\\r\\nX-Injected: 1\""),
        ("header", "\"X Team\""),
        ("cookie", "\"session;admin\""),
        ("cookie", "\"\""),
    ] {
        let paths = format!(
            "  /api/widgets/:\n    get:\n      operationId: widgets_list\n      parameters:\n        - in: {place}\n          name: {name}\n          schema:\n            type: string\n      responses:\n        '204':\n          description: No response body\n"
        );
        assert_one(
            &document(&paths, "    Unused:\n      type: string\n"),
            "#/paths/~1api~1widgets~1/get/parameters/0",
            &["header or cookie name", "HTTP token"],
        );
    }
}

#[test]
fn path_item_reference() {
    let paths = "  /api/widgets/:\n    $ref: '#/components/pathItems/Widgets'\n";
    assert_one(
        &document(paths, "    Unused:\n      type: string\n"),
        "#/paths/~1api~1widgets~1",
        &["not supported"],
    );
}

#[test]
fn every_problem_of_a_phase_is_reported() {
    // Two independent problems: both are listed, sorted by pointer, not just the first.
    let input = document(
        "  {}",
        "    A:\n      type: object\n      properties:\n        x:\n          $ref: '#/components/schemas/Missing1'\n    B:\n      type: object\n      properties:\n        y:\n          $ref: '#/components/schemas/Missing2'\n",
    );
    let found = diagnostics(&input);
    let pointers: Vec<&str> = found.iter().map(|d| d.pointer.as_str()).collect();
    assert_eq!(
        pointers,
        [
            "#/components/schemas/A/properties/x",
            "#/components/schemas/B/properties/y"
        ]
    );
}

/// An operation whose `operationId` is not shaped like an identifier (or absent) still
/// generates: the operation table's constant must not be built from the raw id.
#[test]
fn operation_ids_that_are_not_identifiers() {
    for id in ["get-users", "users.list", "2fa_list"] {
        let paths = format!(
            "  /api/users/:\n    get:\n      operationId: {id}\n      responses:\n        '204':\n          description: No response body\n"
        );
        let input = document(&paths, "    Unused:\n      type: string\n");
        let result = std::panic::catch_unwind(|| support::generate("ids.yaml", input.as_bytes()));
        assert!(matches!(result, Ok(Ok(_))), "`{id}` did not generate");
    }
}

/// operationIds that collide (after snake-casing, or outright) give distinct Rust items: a
/// duplicate `pub static` or query struct would not compile.
#[test]
fn colliding_operation_ids_give_distinct_items() {
    let operation = |path: &str, id: &str| {
        format!(
            "  {path}:\n    get:\n      operationId: {id}\n      parameters:\n        - in: query\n          name: q\n          schema:\n            type: string\n      responses:\n        '204':\n          description: No response body\n"
        )
    };
    let paths = [
        operation("/a/", "foo_bar_list"),
        operation("/b/", "fooBarList"),
        operation("/c/", "Same"),
        operation("/d/", "same"),
    ]
    .concat();
    let input = document(&paths, "    Unused:\n      type: string\n");
    let output = support::generate_ok("collisions.yaml", input.as_bytes());
    let mut seen = std::collections::BTreeSet::new();
    for line in support::concatenated(&output).lines() {
        let line = line.trim();
        if line.starts_with("pub static ") || line.starts_with("pub struct ") {
            assert!(seen.insert(line.to_owned()), "declared twice: {line}");
        }
    }
}

/// A document nested as deep as the generator allows generates on a test thread's 2 MiB stack,
/// and one level deeper gets a diagnostic naming the place, for every way schemas nest: the
/// generator's recursion is bounded by `load::MAX_DEPTH`, not by the stack.
#[test]
fn deep_nesting_is_bounded() {
    for (open, close) in [
        ("{\"type\": \"array\", \"items\": ", "}"),
        ("{\"allOf\": [", "]}"),
        ("{\"type\": \"object\", \"properties\": {\"a\": ", "}}"),
        ("{\"oneOf\": [{\"type\": \"integer\"}, ", "]}"),
        ("{\"type\": \"object\", \"additionalProperties\": ", "}"),
    ] {
        let document = |levels: usize| {
            let schema = format!(
                "{}{{\"type\": \"string\"}}{}",
                open.repeat(levels),
                close.repeat(levels)
            );
            format!(
                "{{\"openapi\": \"3.0.3\", \"info\": {{\"title\": \"deep\", \"version\": \"1\"}}, \"paths\": {{}}, \"components\": {{\"schemas\": {{\"Deep\": {schema}}}}}}}"
            )
        };
        // Nesting of a document without brackets inside strings: the deepest bracket.
        let depth = |text: &str| {
            let mut level = 0usize;
            let mut deepest = 0;
            for c in text.chars() {
                match c {
                    '{' | '[' => {
                        level += 1;
                        deepest = deepest.max(level);
                    }
                    '}' | ']' => level = level.saturating_sub(1),
                    _ => {}
                }
            }
            deepest
        };
        let limit = posthog_codegen::load::MAX_DEPTH;
        let levels = (1..limit)
            .rev()
            .find(|levels| depth(&document(*levels)) <= limit)
            .unwrap_or(0);
        let deepest = document(levels);
        let result =
            std::panic::catch_unwind(|| support::generate("deep.json", deepest.as_bytes()));
        assert!(
            matches!(result, Ok(Ok(_))),
            "{levels} levels of {open} did not generate"
        );
        let deeper = document(levels + 1);
        let found = diagnostics(&deeper);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].pointer.starts_with("#/components/schemas/Deep/"));
        assert!(
            found[0].message.contains("nests deeper than"),
            "{}",
            found[0]
        );
    }
}

/// A path parameter the template does not name would sort first and fill another
/// placeholder with its value: refused at the parameter.
#[test]
fn path_parameter_missing_from_the_template() {
    let paths = "  /api/widgets/{id}/:\n    get:\n      operationId: widgets_retrieve\n      parameters:\n        - in: path\n          name: id\n          required: true\n          schema:\n            type: string\n        - in: path\n          name: team\n          required: true\n          schema:\n            type: string\n      responses:\n        '204':\n          description: No response body\n";
    assert_one(
        &document(paths, "    Unused:\n      type: string\n"),
        "#/paths/~1api~1widgets~1{id}~1/get/parameters/1",
        &["`team`", "/api/widgets/{id}/", "does not name"],
    );
}

/// The same, declared on the path item.
#[test]
fn path_item_parameter_missing_from_the_template() {
    let paths = "  /api/widgets/:\n    parameters:\n      - in: path\n        name: id\n        required: true\n        schema:\n          type: string\n    get:\n      operationId: widgets_list\n      responses:\n        '204':\n          description: No response body\n";
    assert_one(
        &document(paths, "    Unused:\n      type: string\n"),
        "#/paths/~1api~1widgets~1/parameters/0",
        &["`id`", "does not name"],
    );
}

/// A placeholder named twice would take two arguments for one parameter.
#[test]
fn path_placeholder_named_twice() {
    let paths = "  /api/widgets/{id}/copy/{id}/:\n    get:\n      operationId: widgets_copy\n      parameters:\n        - in: path\n          name: id\n          required: true\n          schema:\n            type: string\n      responses:\n        '204':\n          description: No response body\n";
    assert_one(
        &document(paths, "    Unused:\n      type: string\n"),
        "#/paths/~1api~1widgets~1{id}~1copy~1{id}~1/get",
        &["`{id}`", "more than once"],
    );
}

/// Aliases that name only each other describe no value, and Rust refuses a type alias that
/// expands to itself (`type A = Box<B>; type B = Box<A>;`), boxed or not.
#[test]
fn ref_alias_cycles() {
    let input = document(
        "  {}",
        "    A:\n      $ref: '#/components/schemas/B'\n    B:\n      $ref: '#/components/schemas/A'\n    C:\n      $ref: '#/components/schemas/C'\n    D:\n      type: array\n      items:\n        $ref: '#/components/schemas/E'\n    E:\n      allOf:\n        - $ref: '#/components/schemas/D'\n      nullable: true\n    Fine:\n      type: object\n      properties:\n        next:\n          $ref: '#/components/schemas/Fine'\n",
    );
    let found = diagnostics(&input);
    let pointers: Vec<&str> = found.iter().map(|d| d.pointer.as_str()).collect();
    assert_eq!(
        pointers,
        [
            "#/components/schemas/A",
            "#/components/schemas/C",
            "#/components/schemas/D"
        ],
        "{found:#?}"
    );
    assert!(found[0].message.contains("A -> B -> A"), "{}", found[0]);
    assert!(found[1].message.contains("C -> C"), "{}", found[1]);
    assert!(found[2].message.contains("D -> E -> D"), "{}", found[2]);
}

/// An `allOf` that merges the component it sits in (found by `cargo xtask fuzz`): merging copies
/// the component's properties, which hold the same `allOf` again, so lowering recursed until the
/// stack overflowed. It is refused at the member that closes the cycle.
#[test]
fn allof_merging_its_own_component() {
    let input = document(
        "  {}",
        "    Widget:\n      type: object\n      properties:\n        child:\n          allOf:\n            - $ref: '#/components/schemas/Widget'\n            - type: object\n              properties:\n                extra:\n                  type: string\n",
    );
    assert_one(
        &input,
        "#/components/schemas/Widget/properties/child/allOf/0",
        &["#/components/schemas/Widget", "merge"],
    );
}

/// `allOf` merges bring in the properties of the components they name, so a chain of them
/// nests lowering deeper than the document itself: bounded too, with a diagnostic.
#[test]
fn allof_merge_chains_are_bounded() {
    let mut schemas = String::new();
    for index in 0..200 {
        schemas.push_str(&format!(
            "    C{index}:\n      type: object\n      properties:\n        p:\n          allOf:\n            - $ref: '#/components/schemas/C{}'\n            - type: object\n",
            index + 1
        ));
    }
    schemas.push_str(
        "    C200:\n      type: object\n      properties:\n        end:\n          type: string\n",
    );
    let input = document("  {}", &schemas);
    let found = diagnostics(&input);
    assert!(
        found.iter().all(|d| d.message.contains("nest")),
        "{found:#?}"
    );
}

/// Runs the generator with a public-endpoints document and a throttle table beside `main`,
/// returning the diagnostics.
fn diagnostics_with(main: &str, public: Option<&str>, throttle: Option<&str>) -> Vec<Diagnostic> {
    let input = |source: &str, text: &'static str| Input {
        source: source.to_owned(),
        bytes: text.as_bytes(),
    };
    let main: &'static str = Box::leak(main.to_owned().into_boxed_str());
    let public = public.map(|text| input("schema/public-api.yaml", Box::leak(text.into())));
    let result =
        posthog_codegen::generate(&input("main.yaml", main), public.as_ref(), throttle, "test");
    match result {
        Ok(_) => panic!("the generator accepted the input"),
        Err(diagnostics) => diagnostics.0,
    }
}

const FINE_PATH: &str = "  /api/a/:\n    get:\n      operationId: a_get\n      responses:\n        '200': {description: ok}";

/// Issue 20: after the merge, a pointer into `schema/public-api.yaml` read like one into
/// PostHog's schema. The lowering's diagnostics at a place the public document brought name it.
#[test]
fn a_problem_in_the_public_document_names_that_document() {
    let public = "openapi: 3.0.3\ninfo: {title: public, version: '1'}\npaths:\n  /capture/:\n    post:\n      operationId: capture\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/Missing'}\n";
    let found = diagnostics_with(
        &document(FINE_PATH, "    A: {type: string}"),
        Some(public),
        None,
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].source, Source::PublicDocument, "{}", found[0]);
    assert_eq!(found[0].kind, Kind::Input);
    assert!(
        found[0].pointer.starts_with("#/paths/~1capture~1/post"),
        "{}",
        found[0]
    );
    assert!(
        found[0]
            .to_string()
            .starts_with("schema/public-api.yaml#/paths/~1capture~1/post"),
        "{}",
        found[0]
    );
    // The same problem in the main document keeps reading as before.
    let main = document(
        "  /capture/:\n    post:\n      operationId: capture\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: '#/components/schemas/Missing'}",
        "    A: {type: string}",
    );
    let found = diagnostics_with(&main, None, None);
    assert_eq!(found[0].source, Source::Schema);
    assert!(
        found[0].to_string().starts_with("#/paths/~1capture~1/post"),
        "{}",
        found[0]
    );
}

/// Issue 20: throttle-table errors put a file path in the pointer field. Now the source is the
/// table and its line, and the pointer is empty.
#[test]
fn a_problem_in_the_throttle_table_names_the_file_and_line() {
    let table = "version = 1\n[[scope]]\nname = \"burst\"\nrequests = 480\nperiod_seconds = 60\nsource = \"x\"\n[[scope]]\nname = \"burst\"\nrequests = 1\nperiod_seconds = 1\nsource = \"x\"\n[default]\nscopes = [\"burst\"]\nsource = \"x\"\n";
    let found = diagnostics_with(
        &document(FINE_PATH, "    A: {type: string}"),
        None,
        Some(table),
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    let Source::ThrottleTable { line: Some(line) } = found[0].source else {
        panic!("not the throttle table's line: {:?}", found[0]);
    };
    assert_eq!(line, 8);
    assert_eq!(found[0].pointer, "");
    assert_eq!(
        found[0].to_string(),
        format!("schema/throttle-scopes.toml:{line}: scope `burst` is declared twice")
    );
}

/// An overlay's problem names the overlay file and the action, apart from the pointer.
#[test]
fn a_problem_in_an_overlay_names_the_file_and_action() {
    let overlay = "overlay: 1.0.0\ninfo: {title: t, version: '1'}\nactions:\n  - target: $.components\n    description: ok\n    update: {}\n  - target: \"$.paths['/api/nowhere/']\"\n    description: gone\n    update: {x-a: 1}\n";
    let main = document(FINE_PATH, "    A: {type: string}");
    let result = posthog_codegen::generate_with_overlays(
        &Input {
            source: "main.yaml".to_owned(),
            bytes: main.as_bytes(),
        },
        &[Input {
            source: "schema/overlays/50-x.yaml".to_owned(),
            bytes: overlay.as_bytes(),
        }],
        None,
        None,
        "test",
    );
    let found = result.err().map(|d| d.0).unwrap_or_default();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        found[0].source,
        Source::Overlay {
            file: "schema/overlays/50-x.yaml".to_owned(),
            action: Some(1)
        }
    );
    assert_eq!(found[0].pointer, "#/actions/1");
}

/// A generator bug is its own kind, told apart from input problems without reading messages
/// (the fuzzer relies on it), and says it is not the schema's fault.
#[test]
fn a_generator_bug_is_its_own_kind() {
    let bug = Diagnostic::bug("api/things.rs", "the generated file does not parse: ...");
    assert_eq!(bug.kind, Kind::GeneratorBug);
    assert_eq!(bug.source, Source::Generator);
    assert!(
        bug.to_string().contains("generator bug at api/things.rs"),
        "{bug}"
    );
    assert!(
        bug.to_string().contains("not a problem of the schema"),
        "{bug}"
    );
    // Other helpers' diagnostics keep the two-argument constructor: the main schema, input kind.
    let plain = Diagnostic::new("#/paths", "x");
    assert_eq!((plain.kind, &plain.source), (Kind::Input, &Source::Schema));
    assert_eq!(plain.to_string(), "#/paths: x");
}
