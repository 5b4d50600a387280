//! A grammar of OpenAPI documents, walked with a seeded PRNG: the shapes drf-spectacular writes
//! and the ones it never would (`$ref` chains and cycles, nested `allOf`/`oneOf`/`anyOf`, enums
//! of mixed types, parameters in every location, odd names, empty and huge members).

use rand::RngExt;
use rand_pcg::Pcg64;
use serde_json::{Map, Value, json};

/// Names that have broken, or could break, a generator: keywords, prelude and runtime names,
/// the crate's own features, unicode, a leading digit, pointer and template syntax, case
/// collisions, empty and huge names.
const ODD_NAMES: &[&str] = &[
    "type",
    "self",
    "Self",
    "crate",
    "super",
    "_",
    "__",
    "match",
    "async",
    "fn",
    "r#type",
    "mod",
    "Ok",
    "Err",
    "Some",
    "None",
    "Option",
    "Result",
    "Vec",
    "String",
    "Box",
    "Value",
    "Default",
    "Clone",
    "Client",
    "Error",
    "Map",
    "Serialize",
    "Deserialize",
    "FromQuery",
    "Other",
    "Blank",
    "default",
    "full",
    "server",
    "unreferenced_types",
    "public",
    "new",
    "empty",
    "mount",
    "merge",
    "serve",
    "std",
    "serde_json",
    "core",
    "all",
    "ALL",
    "throttle_limits",
    "query",
    "body",
    "s",
    "cx",
    "project_id",
    "id",
    "cursor",
    "limit",
    "offset",
    "next",
    "results",
    "kind",
    "format",
    "café",
    "日本語",
    "Ω",
    "🦀",
    "ß",
    "İ",
    "2fa",
    "123",
    "0",
    "-1",
    "",
    " ",
    "$set",
    "a/b",
    "a~b",
    "~1",
    "{x}",
    "{",
    "}",
    "Etc/GMT+1",
    "Etc/GMT-1",
    "a-b",
    "a.b",
    "a b",
    "FooBar",
    "foo_bar",
    "fooBar",
    "FOO_BAR",
    "Foo_bar",
    "foo__bar",
    "BlankEnum",
    "NullEnum",
    "user",
    "feature_flag",
    "FeatureFlag",
    "environments",
    "x",
    "X",
    "Variant",
    "Inner",
    "Item",
    "ThingVariant0",
    "Query",
    "Body",
    "Response",
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

const MEDIA_TYPES: &[&str] = &[
    "application/json",
    "multipart/form-data",
    "application/x-www-form-urlencoded",
    "*/*",
    "text/plain",
    "application/vnd.api+json",
    "text/csv",
    "text/event-stream",
];

const STRING_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "uuid",
    "binary",
    "byte",
    "email",
    "uri",
    "password",
    "decimal",
    "",
];

/// One document builder: the component names chosen up front, so that references can name
/// them (or miss them) and form chains and cycles.
pub struct Grammar<'r> {
    rng: &'r mut Pcg64,
    components: Vec<String>,
    /// How deep schemas may still nest.
    budget: usize,
    /// How many more schemas the document may hold, so huge members stay affordable.
    nodes: usize,
    /// How often input the generator must refuse is chosen (0: only well-formed documents,
    /// so that half the cases reach emission; 1: hostile throughout).
    hostility: f64,
}

impl<'r> Grammar<'r> {
    /// A builder drawing from `rng`.
    pub fn new(rng: &'r mut Pcg64) -> Self {
        Self {
            rng,
            components: Vec::new(),
            budget: 0,
            nodes: 0,
            hostility: 1.0,
        }
    }

    /// A choice that makes the document one the generator must refuse.
    fn hostile(&mut self, p: f64) -> bool {
        self.rng.random_bool((p * self.hostility).clamp(0.0, 1.0))
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.rng.random_range(0..n)
        }
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A count that is usually small, sometimes zero and rarely huge.
    fn count(&mut self, usual: usize) -> usize {
        match self.below(100) {
            0..=2 => 0,
            3 => 50 + self.below(200),
            _ => self.below(usual + 1),
        }
    }

    /// A name: odd most of the time, sometimes plain, huge or made of random characters.
    pub fn name(&mut self) -> String {
        match self.below(20) {
            0 if self.chance(0.1) => "a".repeat(1 + self.below(3000)),
            1 => {
                let length = self.below(12);
                (0..length)
                    .map(|_| match self.below(4) {
                        0 => char::from_u32(self.rng.random_range(0x20..0x2000)).unwrap_or('x'),
                        1 => '_',
                        _ => char::from(b'a' + self.rng.random_range(0..26u8)),
                    })
                    .collect()
            }
            2..=5 => format!(
                "{}{}",
                self.pick(&["Widget", "thing", "Node", "item"]),
                self.below(5)
            ),
            _ => self.pick(ODD_NAMES).to_owned(),
        }
    }

    /// A whole document.
    pub fn document(&mut self) -> Value {
        // Small documents keep cases fast (most of a case's time is parsing); now and then a
        // big one.
        self.nodes = if self.chance(0.005) { 5000 } else { 60 };
        self.hostility = if self.chance(0.5) {
            0.0
        } else {
            self.rng.random_range(0.0..1.0)
        };
        let component_count = self.count(5);
        self.components = (0..component_count).map(|_| self.name()).collect();
        let mut schemas = Map::new();
        for index in 0..self.components.len() {
            let name = self.components[index].clone();
            self.budget = 1 + self.below(6);
            let schema = match self.below(12) {
                // Alias chains and cycles: a component that is only a reference.
                0 | 1 if self.hostile(1.0) || self.chance(0.3) => self.reference(),
                2 => json!({"enum": [""]}),
                3 => json!({"enum": [null]}),
                _ => self.schema(),
            };
            schemas.insert(name, schema);
        }
        let mut paths = Map::new();
        for _ in 0..self.count(3) {
            let (path, placeholders) = self.path_template();
            paths.insert(path, self.path_item(&placeholders));
        }
        let mut components = Map::new();
        components.insert("schemas".to_owned(), Value::Object(schemas));
        if self.chance(0.2) {
            self.budget = 2;
            let parameter = self.parameter(&[]);
            components.insert("parameters".to_owned(), json!({ "P": parameter }));
        }
        let mut document = json!({
            "openapi": self.version(),
            "info": {"title": "fuzz", "version": "1.0.0"},
            "paths": paths,
            "components": components,
        });
        if self.chance(0.1) {
            document["security"] = json!([{"PersonalAPIKeyAuth": ["feature_flag:read"]}]);
        }
        document
    }

    fn version(&mut self) -> Value {
        if !self.hostile(1.0) {
            return json!("3.0.3");
        }
        match self.below(60) {
            0 => json!("3.1.0"),
            1 => json!(3),
            2 => Value::Null,
            3 => json!("2.0"),
            _ => json!(self.pick(&["3.0.3", "3.0.0", "3.0.9"])),
        }
    }

    /// A path template and the placeholders it names.
    fn path_template(&mut self) -> (String, Vec<String>) {
        let mut path = String::from("/api");
        let mut placeholders = Vec::new();
        for _ in 0..self.below(5) {
            path.push('/');
            match self.below(6) {
                0 | 1 => {
                    let name = self.placeholder_name();
                    path.push_str(&format!("{{{name}}}"));
                    placeholders.push(name);
                }
                2 if !placeholders.is_empty() && self.hostile(0.2) => {
                    // The same placeholder twice.
                    let position = self.below(placeholders.len());
                    let again = placeholders[position].clone();
                    path.push_str(&format!("{{{again}}}"));
                }
                3 if self.hostile(0.1) => path.push_str(self.pick(&["{", "}", "{}", "{a{b}"])),
                _ => path.push_str(&self.name().replace('/', "_")),
            }
        }
        path.push('/');
        (path, placeholders)
    }

    fn placeholder_name(&mut self) -> String {
        if self.chance(0.5) {
            self.pick(&[
                "project_id",
                "id",
                "uuid",
                "name",
                "type",
                "self",
                "s",
                "cx",
            ])
            .to_owned()
        } else {
            self.name().replace(['{', '}', '/'], "")
        }
    }

    fn path_item(&mut self, placeholders: &[String]) -> Value {
        let mut item = Map::new();
        if self.chance(0.15) {
            let parameters: Vec<Value> = (0..self.below(3))
                .map(|_| self.parameter(placeholders))
                .collect();
            item.insert("parameters".to_owned(), Value::Array(parameters));
        }
        for _ in 0..1 + self.below(3) {
            let method = self.pick(METHODS);
            let operation = self.operation(placeholders);
            item.insert(method.to_owned(), operation);
        }
        if self.hostile(0.02) {
            return json!({"$ref": "#/components/pathItems/X"});
        }
        Value::Object(item)
    }

    fn operation(&mut self, placeholders: &[String]) -> Value {
        let mut op = Map::new();
        if !self.chance(0.1) {
            op.insert("operationId".to_owned(), json!(self.name()));
        }
        let tags: Vec<String> = (0..self.below(4)).map(|_| self.name()).collect();
        if !tags.is_empty() || self.chance(0.5) {
            op.insert("tags".to_owned(), json!(tags));
        }
        let mut parameters = Vec::new();
        for placeholder in placeholders {
            // Mostly declared, sometimes not (a diagnostic), sometimes declared as a query.
            if !self.hostile(0.1) {
                self.budget = 2;
                let mut parameter = self.parameter(placeholders);
                parameter["name"] = json!(placeholder);
                if !self.hostile(0.1) {
                    parameter["in"] = json!("path");
                }
                parameters.push(parameter);
            }
        }
        for _ in 0..self.count(3) {
            self.budget = 3;
            parameters.push(self.parameter(placeholders));
        }
        if self.hostile(0.05) {
            parameters.push(json!({"$ref": "#/components/parameters/P"}));
        }
        op.insert("parameters".to_owned(), Value::Array(parameters));
        if self.chance(0.4) {
            op.insert("requestBody".to_owned(), self.request_body());
        }
        op.insert("responses".to_owned(), self.responses());
        if self.chance(0.1) {
            op.insert("deprecated".to_owned(), json!(true));
        }
        if self.chance(0.1) {
            op.insert(
                "security".to_owned(),
                json!([{"PersonalAPIKeyAuth": [self.name()]}, {}]),
            );
        }
        if self.chance(0.05) {
            op.insert("x-posthog-host".to_owned(), json!("public"));
        }
        if self.chance(0.2) {
            op.insert("summary".to_owned(), json!(self.text()));
            op.insert("description".to_owned(), json!(self.text()));
        }
        Value::Object(op)
    }

    fn text(&mut self) -> String {
        self.pick(&[
            "",
            "   ",
            "```python\nprint(1)\n```",
            "```\nunclosed fence",
            "    indented code",
            "*/ /* `x` [link](y) <b>",
            "\u{0}\u{7f}\u{202e}",
            "line\n\nline",
            // Text that would leave a literal or a comment if it were written raw.
            "a\rb \"); } fn injected() { (\" \\",
        ])
        .to_owned()
    }

    fn parameter(&mut self, placeholders: &[String]) -> Value {
        let location = if self.hostile(0.3) {
            self.pick(&["path", "header", "cookie"])
        } else if !placeholders.is_empty() && self.chance(0.2) {
            "path"
        } else {
            "query"
        };
        let name = if location == "path" && !placeholders.is_empty() && !self.hostile(0.3) {
            let position = self.below(placeholders.len());
            placeholders[position].clone()
        } else {
            self.name()
        };
        let mut parameter = json!({
            "in": location,
            "name": name,
            "required": location == "path" || self.chance(0.3),
        });
        if self.chance(0.1) {
            parameter["content"] = json!({"application/json": {"schema": {"type": "object"}}});
        } else {
            self.budget = self.budget.max(1);
            parameter["schema"] = self.schema();
        }
        if self.chance(0.2) {
            parameter["explode"] = json!(self.chance(0.5));
            let styles: &[&str] = if self.hostile(0.5) {
                &["form", "simple", "deepObject", "matrix"]
            } else if location == "path" {
                &["simple", "label", "matrix"]
            } else {
                &["form", "spaceDelimited", "pipeDelimited", "deepObject"]
            };
            parameter["style"] = json!(self.pick(styles));
        }
        if self.chance(0.1) {
            parameter["description"] = json!(self.text());
        }
        parameter
    }

    fn request_body(&mut self) -> Value {
        if self.hostile(0.05) {
            return json!({"$ref": format!("#/components/requestBodies/{}", self.name())});
        }
        let mut content = Map::new();
        for _ in 0..1 + self.below(3) {
            let media = if self.hostile(0.5) {
                self.pick(MEDIA_TYPES)
            } else {
                self.pick(&MEDIA_TYPES[..4])
            };
            self.budget = 3;
            let media_type = if self.chance(0.1) {
                json!({})
            } else {
                json!({"schema": self.schema()})
            };
            content.insert(media.to_owned(), media_type);
        }
        json!({"content": content, "required": self.chance(0.5)})
    }

    fn responses(&mut self) -> Value {
        let mut responses = Map::new();
        for _ in 0..self.below(4) {
            let code = self.pick(&["200", "201", "204", "2XX", "default", "400", "404", "299"]);
            let mut content = Map::new();
            for _ in 0..self.below(3) {
                let media = self.pick(&[
                    "application/json",
                    "application/json",
                    "text/csv",
                    "text/event-stream",
                    "text/plain",
                ]);
                self.budget = 3;
                let schema = if self.chance(0.2) {
                    self.paginated()
                } else {
                    self.schema()
                };
                content.insert(media.to_owned(), json!({ "schema": schema }));
            }
            let response = if self.hostile(0.05) {
                json!({"$ref": "#/components/responses/R"})
            } else {
                json!({"description": "", "content": content})
            };
            responses.insert(code.to_owned(), response);
        }
        Value::Object(responses)
    }

    /// A drf paginated list, so pagination is recognised now and then.
    fn paginated(&mut self) -> Value {
        let item = self.schema();
        json!({
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": true},
                "results": {"type": "array", "items": item},
                "count": {"type": "integer"},
            },
        })
    }

    /// A `$ref`: to a component (chains and cycles), dangling, escaped or outside components.
    fn reference(&mut self) -> Value {
        let target = match self.below(10) {
            0 | 1 if !self.hostile(1.0) && !self.components.is_empty() => {
                let position = self.below(self.components.len());
                let name = self.components[position].clone();
                format!(
                    "#/components/schemas/{}",
                    name.replace('~', "~0").replace('/', "~1")
                )
            }
            0 => format!("#/components/schemas/{}", self.name()),
            1 => self
                .pick(&[
                    "other.yaml#/X",
                    "#/paths/x",
                    "#/components/schemas/",
                    "#/components/schemas/a~1b",
                    "#",
                    "",
                ])
                .to_owned(),
            _ if !self.components.is_empty() => {
                let position = self.below(self.components.len());
                let name = self.components[position].clone();
                format!(
                    "#/components/schemas/{}",
                    name.replace('~', "~0").replace('/', "~1")
                )
            }
            _ if self.hostile(1.0) => "#/components/schemas/Missing".to_owned(),
            _ => return self.leaf(),
        };
        json!({ "$ref": target })
    }

    /// A schema nesting at most `depth` levels, on its own (for mutations).
    pub fn schema_of_depth(&mut self, depth: usize) -> Value {
        self.budget = depth;
        self.nodes = 50;
        self.schema()
    }

    /// A schema, nesting at most `budget` more levels.
    fn schema(&mut self) -> Value {
        if self.budget == 0 || self.nodes == 0 {
            return self.leaf();
        }
        self.nodes -= 1;
        self.budget -= 1;
        let mut schema = match self.below(16) {
            0 | 1 => self.reference(),
            2 | 3 => self.leaf(),
            4 => self.enumeration(),
            5..=7 => self.object(),
            8 => {
                let items = self.schema();
                if self.chance(0.1) {
                    json!({"type": "array"})
                } else {
                    json!({"type": "array", "items": items})
                }
            }
            9..=12 => self.composition(),
            13 => json!({"not": self.leaf()}),
            14 => json!({}),
            _ => self.mixed(),
        };
        self.budget += 1;
        if let Value::Object(map) = &mut schema {
            if self.chance(0.15) {
                map.insert("nullable".to_owned(), json!(true));
            }
            if self.chance(0.1) {
                map.insert("readOnly".to_owned(), json!(true));
            }
            if self.chance(0.05) {
                map.insert("writeOnly".to_owned(), json!(true));
            }
            if self.chance(0.05) {
                map.insert("description".to_owned(), json!(self.text()));
            }
        }
        schema
    }

    fn leaf(&mut self) -> Value {
        match self.below(8) {
            0 => json!({"type": "boolean"}),
            1 => json!({"type": "number", "format": self.pick(&["double", "float", ""])}),
            2 => {
                let mut integer = json!({"type": "integer"});
                if self.chance(0.5) {
                    integer["format"] = json!(self.pick(&["int32", "int64", "uint8", ""]));
                }
                if self.chance(0.5) {
                    let bounds = [
                        i64::MIN,
                        -2147483648,
                        -1,
                        0,
                        1,
                        2147483647,
                        4294967295,
                        i64::MAX,
                    ];
                    integer["minimum"] = json!(bounds[self.below(bounds.len())]);
                    integer["maximum"] = json!(bounds[self.below(bounds.len())]);
                }
                integer
            }
            3 => json!({"type": "object", "additionalProperties": self.chance(0.5)}),
            _ => json!({"type": "string", "format": self.pick(STRING_FORMATS)}),
        }
    }

    fn enum_value(&mut self) -> Value {
        match self.below(9) {
            0 => Value::Null,
            1 => json!(""),
            2 => json!(self.rng.random_range(-5i64..5)),
            3 => json!(i64::MIN),
            4 => json!(1.5),
            5 => json!(true),
            6 => json!({"a": [1]}),
            7 => json!([]),
            _ => json!(self.name()),
        }
    }

    fn enumeration(&mut self) -> Value {
        let count = self.count(6);
        match self.below(4) {
            0 => {
                let values: Vec<Value> = (0..count).map(|_| json!(self.name())).collect();
                json!({"type": "string", "enum": values})
            }
            1 => {
                let values: Vec<Value> = (0..count)
                    .map(|_| json!(self.rng.random_range(-3i64..300)))
                    .collect();
                json!({"type": "integer", "enum": values})
            }
            2 => {
                let values: Vec<Value> = (0..count).map(|_| self.enum_value()).collect();
                json!({ "enum": values })
            }
            _ if !self.hostile(1.0) => {
                let values: Vec<Value> = (0..count).map(|_| json!(self.name())).collect();
                json!({ "enum": values })
            }
            _ => {
                // A mixed list under a declared type: openapiv3 may refuse it, which is fine.
                let values: Vec<Value> = (0..count).map(|_| self.enum_value()).collect();
                json!({"type": self.pick(&["string", "integer", "boolean"]), "enum": values})
            }
        }
    }

    fn object(&mut self) -> Value {
        let mut properties = Map::new();
        let count = self.count(5);
        for _ in 0..count {
            let name = self.name();
            let schema = self.schema();
            properties.insert(name, schema);
        }
        let mut required: Vec<Value> = properties
            .keys()
            .filter(|_| self.rng.random_bool(0.5))
            .map(|k| json!(k))
            .collect::<Vec<_>>();
        if self.chance(0.1) {
            required.push(json!(self.name()));
        }
        let mut object = json!({"type": "object", "properties": properties, "required": required});
        match self.below(5) {
            0 => object["additionalProperties"] = json!(true),
            1 => object["additionalProperties"] = self.schema(),
            2 => object["additionalProperties"] = json!(false),
            _ => {}
        }
        if self.chance(0.1) {
            object.as_object_mut().map(|o| o.remove("type"));
        }
        object
    }

    fn composition(&mut self) -> Value {
        let keyword = self.pick(&["allOf", "oneOf", "anyOf", "allOf"]);
        let count = match self.below(8) {
            0 => 0,
            1 => 1,
            _ => self.count(4),
        };
        let merge_objects = keyword == "allOf" && count > 1 && !self.hostile(1.0);
        let mut members: Vec<Value> = (0..count)
            .map(|_| {
                if merge_objects {
                    // What a merge can use: objects, or references that may name one.
                    if self.chance(0.3) {
                        self.reference()
                    } else {
                        self.object()
                    }
                } else {
                    self.schema()
                }
            })
            .collect();
        if keyword != "allOf" && self.chance(0.2) {
            // drf's choice-blank-null triple.
            members.push(json!({"$ref": "#/components/schemas/BlankEnum"}));
            members.push(json!({"$ref": "#/components/schemas/NullEnum"}));
        }
        let mut schema = json!({ keyword: members });
        if keyword == "oneOf" && self.chance(0.3) {
            let mut mapping = Map::new();
            for _ in 0..self.below(4) {
                let tag = self.name();
                let target = match self.reference().get("$ref") {
                    Some(target) => target.clone(),
                    None if self.hostile(1.0) => Value::Null,
                    None => continue,
                };
                mapping.insert(tag, target);
            }
            schema["discriminator"] = json!({"propertyName": self.name(), "mapping": mapping});
        }
        if self.chance(0.15) {
            schema["type"] = json!("object");
        }
        schema
    }

    /// Keywords openapiv3 keeps as `SchemaKind::Any`: several structures in one schema.
    fn mixed(&mut self) -> Value {
        let mut schema = Map::new();
        for _ in 0..1 + self.below(4) {
            match self.below(7) {
                0 => {
                    schema.insert("oneOf".to_owned(), json!([self.schema()]));
                }
                1 => {
                    schema.insert("allOf".to_owned(), json!([]));
                }
                2 => {
                    schema.insert(
                        "properties".to_owned(),
                        json!({ self.name(): self.schema() }),
                    );
                }
                3 => {
                    schema.insert("items".to_owned(), self.schema());
                }
                4 => {
                    schema.insert("enum".to_owned(), json!([self.enum_value()]));
                }
                5 => {
                    schema.insert(
                        "type".to_owned(),
                        json!(self.pick(&["object", "array", "string", "integer", "weird"])),
                    );
                }
                _ => {
                    schema.insert("anyOf".to_owned(), json!([self.schema(), self.schema()]));
                }
            }
        }
        Value::Object(schema)
    }
}
