//! The intermediate representation every emitter reads: operations and types, already named,
//! normalized and resolved. It holds no tokens and no reference to the OpenAPI document.

use std::collections::BTreeMap;

/// A whole API, lowered from one or more documents.
#[derive(Debug, Clone, Default)]
pub struct Api {
    /// The main document's `info.title`, for reports (the changelog names both sides by it).
    pub title: String,
    /// The main document's `info.version`.
    pub version: String,
    /// Operations in emission order (tag, then operation id).
    pub operations: Vec<Operation>,
    /// Named types by Rust name.
    pub types: BTreeMap<String, TypeDef>,
    /// Inline types made aliases of a same-shape type (`same_shape_inline_type`), with the shape
    /// each had: the names it referred to compile wherever the alias does, and the changelog
    /// compares the shape ([`Api::own_shape`]).
    pub merged_shapes: BTreeMap<String, TypeKind>,
    /// Throttle scope budgets, from the throttle table.
    pub throttle_limits: Vec<ThrottleLimit>,
    /// Operations left out under `--skip-unsupported`, in document order.
    pub skipped: Vec<SkippedOperation>,
}

impl Api {
    /// A named type's shape as the schema wrote it: for an inline copy merged into a same-shape
    /// type, the copy's own shape rather than its alias.
    pub fn own_shape(&self, name: &str) -> Option<&TypeKind> {
        self.merged_shapes
            .get(name)
            .or_else(|| self.types.get(name).map(|def| &def.kind))
    }
}

/// An operation (or a whole path item) that could not be lowered and was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedOperation {
    /// `METHOD /path (operationId)`, or the path of a path item.
    pub operation: String,
    /// JSON pointer of the operation (or path item).
    pub pointer: String,
    /// The diagnostics that would have failed the run.
    pub reasons: Vec<crate::diagnostic::Diagnostic>,
}

/// One throttle scope's budget, as the throttle table states it and the generated
/// `THROTTLE_LIMITS` holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleLimit {
    /// PostHog's scope name.
    pub scope: String,
    /// Requests per period.
    pub requests: u32,
    /// Period in seconds.
    pub period_seconds: u64,
}

/// A reference to a type, as a field or parameter uses it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TypeRef {
    /// `bool`
    Bool,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `f64`
    F64,
    /// `String`
    String,
    /// An RFC 3339 timestamp.
    DateTime,
    /// A calendar date.
    Date,
    /// A UUID.
    Uuid,
    /// Any JSON value.
    Json,
    /// A file (`format: binary`): bytes with a file name and content type, sent as a multipart
    /// file part.
    File,
    /// A named type of [`Api::types`].
    Named(String),
    /// A list.
    Vec(Box<TypeRef>),
    /// A map with string keys.
    Map(Box<TypeRef>),
    /// May be absent or null, the two not told apart (a required nullable field, or an optional
    /// field that is not nullable).
    Option(Box<TypeRef>),
    /// An optional nullable field: absent, null and a value are three different things
    /// (`crate::Nullable`), so a PATCH can clear a field and an answer's null stays null.
    Nullable(Box<TypeRef>),
    /// Boxed to break a recursive cycle.
    Boxed(Box<TypeRef>),
}

impl TypeRef {
    /// Wraps in `Option` unless it already is one.
    pub fn optional(self) -> TypeRef {
        match self {
            TypeRef::Option(_) => self,
            other => TypeRef::Option(Box::new(other)),
        }
    }

    /// Whether this is `Option<_>`.
    pub fn is_option(&self) -> bool {
        matches!(self, TypeRef::Option(_))
    }

    /// Whether a field of this type may be missing from an object (`Option` or `Nullable`).
    pub fn may_be_absent(&self) -> bool {
        matches!(self, TypeRef::Option(_) | TypeRef::Nullable(_))
    }

    /// Pushes every named type this reference mentions, through any wrapper (`Option`, `Box`,
    /// `Vec`, maps), in order.
    pub fn names<'t>(&'t self, out: &mut Vec<&'t str>) {
        match self {
            TypeRef::Named(name) => out.push(name),
            TypeRef::Option(inner)
            | TypeRef::Nullable(inner)
            | TypeRef::Boxed(inner)
            | TypeRef::Vec(inner)
            | TypeRef::Map(inner) => inner.names(out),
            _ => {}
        }
    }
}

impl TypeKind {
    /// The type references a named type holds, in declaration order: its fields', variants' or
    /// alias target. The one walk of the reference graph: feature reachability, cycle boxing
    /// and the changelog's flows all go through it.
    pub fn type_refs(&self) -> Vec<&TypeRef> {
        match self {
            TypeKind::Struct { fields } => fields.iter().map(|f| &f.ty).collect(),
            TypeKind::TaggedUnion { variants, .. } | TypeKind::UntaggedUnion { variants, .. } => {
                variants.iter().map(|v| &v.ty).collect()
            }
            TypeKind::Alias { target } => vec![target],
            TypeKind::StringEnum { .. }
            | TypeKind::IntegerEnum { .. }
            | TypeKind::Literal { .. } => Vec::new(),
        }
    }

    /// [`TypeKind::type_refs`], mutable and in the same order (cycle boxing rewrites them).
    pub fn type_refs_mut(&mut self) -> Vec<&mut TypeRef> {
        match self {
            TypeKind::Struct { fields } => fields.iter_mut().map(|f| &mut f.ty).collect(),
            TypeKind::TaggedUnion { variants, .. } | TypeKind::UntaggedUnion { variants, .. } => {
                variants.iter_mut().map(|v| &mut v.ty).collect()
            }
            TypeKind::Alias { target } => vec![target],
            TypeKind::StringEnum { .. }
            | TypeKind::IntegerEnum { .. }
            | TypeKind::Literal { .. } => Vec::new(),
        }
    }
}

impl Operation {
    /// The type references an operation holds: path, query, header and cookie parameters and
    /// body (what the client sends), then the JSON answer and the pagination item (what it
    /// receives).
    pub fn type_refs(&self) -> (Vec<&TypeRef>, Vec<&TypeRef>) {
        let mut sent: Vec<&TypeRef> = self
            .path_params
            .iter()
            .chain(&self.query_params)
            .chain(&self.header_params)
            .chain(&self.cookie_params)
            .map(|p| &p.ty)
            .collect();
        sent.extend(self.body.as_ref().map(|body| &body.ty));
        let mut received = Vec::new();
        if let Response::Json(ty) = &self.response {
            received.push(ty);
        }
        received.extend(self.pagination.as_ref().map(|p| &p.item));
        (sent, received)
    }
}

/// A named type.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeDef {
    /// Documentation from the schema's title/description.
    pub docs: Option<String>,
    /// Where the schema is, for diagnostics and stable naming.
    pub pointer: String,
    /// What kind of type it is.
    pub kind: TypeKind,
}

/// The shape of a named type.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeKind {
    /// An object with known properties; unknown properties are accepted and ignored.
    Struct {
        /// Properties in schema order.
        fields: Vec<Field>,
    },
    /// String choices, plus a fallback variant for values not listed.
    StringEnum {
        /// Variants in schema order.
        variants: Vec<EnumVariant<String>>,
        /// Name of the fallback variant (`Other` unless a value claims it).
        fallback: String,
    },
    /// Integer choices, plus a fallback variant.
    IntegerEnum {
        /// Variants in schema order.
        variants: Vec<EnumVariant<i64>>,
        /// Name of the fallback variant.
        fallback: String,
    },
    /// A single constant string (a pydantic `Literal` tag): decoding any other value fails, which
    /// is what lets untagged unions pick the right variant.
    Literal {
        /// The one value.
        value: String,
    },
    /// A union whose variant is chosen by a discriminator property.
    TaggedUnion {
        /// The property holding the tag.
        tag: String,
        /// Variants: Rust name, payload type, tag values.
        variants: Vec<UnionVariant>,
    },
    /// A union tried variant by variant (anyOf / oneOf without discriminator); unknown shapes
    /// land in a fallback variant holding the raw JSON.
    UntaggedUnion {
        /// Typed variants in schema order (none of them is plain JSON).
        variants: Vec<UnionVariant>,
        /// Name of the last variant, which holds any JSON the others do not match: `Other`, or
        /// the name of the schema's own free-form member when it has one.
        fallback: String,
    },
    /// Another name for a type (a component that is just an array, a map or a primitive).
    Alias {
        /// The aliased type.
        target: TypeRef,
    },
}

/// One variant of a union.
#[derive(Debug, Clone, PartialEq)]
pub struct UnionVariant {
    /// Rust variant name.
    pub name: String,
    /// Payload type.
    pub ty: TypeRef,
    /// Discriminator values that select it (tagged unions only).
    pub tags: Vec<String>,
}

/// One enum choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumVariant<T> {
    /// Rust variant name.
    pub name: String,
    /// Wire value.
    pub value: T,
}

/// One struct field.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Name on the wire.
    pub wire_name: String,
    /// Rust field name (snake case, keyword-safe).
    pub rust_name: String,
    /// Field type; `Option` when the value may be absent or null, `Nullable` when it may be
    /// absent, null or a value and the three differ.
    pub ty: TypeRef,
    /// Serialize `None` as `null` (required nullable fields) instead of omitting it.
    pub serialize_null: bool,
    /// What the schema says of presence and direction, which `ty` folds into one `Option`:
    /// the changelog needs them apart (a field made nullable breaks readers, one made
    /// required breaks writers, a read-only one never travels in a request).
    pub presence: Presence,
    /// Documentation.
    pub docs: Option<String>,
}

/// A field's presence as the schema states it, before the lowering folds it into `Option`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Presence {
    /// Listed in the object's `required`.
    pub required: bool,
    /// `null` is a value (`nullable: true`, or a `NullEnum` member folded away).
    pub nullable: bool,
    /// `readOnly`: only in responses.
    pub read_only: bool,
    /// `writeOnly`: only in requests.
    pub write_only: bool,
}

impl Presence {
    /// Optional, nullable and writable: in a request, absent, null and a value are three
    /// different things (`lower::request_types` makes such a field `Nullable` in types requests
    /// use).
    pub fn three_state(self) -> bool {
        !self.required && self.nullable && !self.read_only
    }
}

/// Which host serves an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Host {
    /// Private API, personal API key.
    Private,
    /// Public ingestion endpoints, project API key.
    Public,
}

/// One API operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The schema's `operationId`.
    pub id: String,
    /// Rust method name (snake case of the id).
    pub method_name: String,
    /// The tag it is grouped under (module and cargo feature).
    pub tag: String,
    /// HTTP method, upper case.
    pub method: String,
    /// Path template.
    pub path: String,
    /// Host that serves it.
    pub host: Host,
    /// One-line summary.
    pub summary: Option<String>,
    /// Longer description (drf-spectacular repeats a viewset's docstring on all its operations).
    pub description: Option<String>,
    /// Deprecated in the schema.
    pub deprecated: bool,
    /// Path parameters in template order.
    pub path_params: Vec<Param>,
    /// Query parameters in schema order.
    pub query_params: Vec<Param>,
    /// Header parameters in schema order, without those the client sets itself (`Accept`,
    /// `Content-Type`, `Authorization`, framing).
    pub header_params: Vec<Param>,
    /// Cookie parameters in schema order, sent together in one `Cookie` header.
    pub cookie_params: Vec<Param>,
    /// The request body the client sends.
    pub body: Option<RequestBody>,
    /// The success answer.
    pub response: Response,
    /// Whether the answer may be `304 Not Modified` (the operation takes `If-None-Match` or
    /// `If-Modified-Since`, or documents a 304): the client returns a `Conditional`.
    pub conditional: bool,
    /// The media type to ask for (`Accept`) when it is not the default of the answer's kind
    /// (`application/json` for JSON, `text/csv` for text), e.g. `application/scim+json`.
    pub accept: Option<String>,
    /// Other representations of the success answer the client can ask for.
    pub alternate_responses: Vec<AlternateResponse>,
    /// Personal API key scopes from `security`.
    pub scopes: Vec<String>,
    /// Throttle scopes from the throttle table.
    pub throttle_scopes: Vec<String>,
    /// How to page through results, for list operations.
    pub pagination: Option<Pagination>,
    /// Names of the companion methods (pages, items stream, csv, event stream).
    pub companions: Companions,
    /// Where the operation is, for diagnostics.
    pub pointer: String,
}

impl Operation {
    /// Whether the operation takes a parameter struct: query, header or cookie parameters.
    pub fn has_params_struct(&self) -> bool {
        !(self.query_params.is_empty()
            && self.header_params.is_empty()
            && self.cookie_params.is_empty())
    }

    /// Every parameter of the parameter struct: query, then header, then cookie parameters.
    pub fn struct_params(&self) -> impl Iterator<Item = &Param> {
        self.query_params
            .iter()
            .chain(&self.header_params)
            .chain(&self.cookie_params)
    }
}

/// A path, query, header or cookie parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Name on the wire.
    pub wire_name: String,
    /// Rust name.
    pub rust_name: String,
    /// Type (`Option` when not required).
    pub ty: TypeRef,
    /// Array encoding: repeat the name (`explode`, the default) or join with commas.
    pub explode: bool,
    /// Documentation.
    pub docs: Option<String>,
}

/// How the request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEncoding {
    /// `application/json`
    Json,
    /// `multipart/form-data`
    Multipart,
    /// `application/x-www-form-urlencoded`, where it is the only option.
    Form,
}

/// A request body.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestBody {
    /// Body type.
    pub ty: TypeRef,
    /// Encoding.
    pub encoding: BodyEncoding,
    /// Whether the schema requires a body.
    pub required: bool,
    /// Members sent as file parts (`format: binary`) in multipart bodies.
    pub file_fields: Vec<String>,
    /// The `Content-Type` of a JSON body when it is not `application/json` (a `+json` type).
    pub media_type: Option<String>,
}

/// The success answer of an operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// A JSON body of this type.
    Json(TypeRef),
    /// No documented body; the client returns whatever JSON arrives (`null` when empty).
    Undocumented,
    /// No body (204).
    Empty,
    /// Text (`text/csv`) only.
    Text,
    /// A stream (`text/event-stream`) only.
    EventStream,
    /// Bytes (`application/octet-stream`, `application/zip`, spreadsheets, `*/*` binary).
    Binary,
}

/// Another representation of an answer, offered as a companion method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlternateResponse {
    /// `text/csv`, as text.
    Csv,
    /// `text/event-stream`, as a byte stream.
    EventStream,
}

/// Pagination of a list operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Pagination {
    /// Offset/limit or cursor.
    pub style: PaginationStyle,
    /// Type of one item of `results`.
    pub item: TypeRef,
}

/// How a listing pages, read from the query parameters it declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaginationStyle {
    /// `limit`/`offset` query parameters.
    LimitOffset,
    /// `cursor` query parameter.
    Cursor,
    /// Both `offset` and `cursor`: it resumes from either.
    OffsetOrCursor,
    /// A `page` number and no `offset` or `cursor`: it resumes only from a saved link.
    PageNumber,
}

/// Method names of an operation's companions, claimed after every primary name so that a
/// companion never takes an operation's name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Companions {
    /// Stream of pages (`{op}_pages`).
    pub pages: Option<String>,
    /// Stream of items (`{op}_stream`).
    pub items: Option<String>,
    /// The answer as CSV text (`{op}_csv`).
    pub csv: Option<String>,
    /// The answer as an event stream (`{op}_event_stream`).
    pub event_stream: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cycle boxing finds a reference with `type_refs` and rewrites the one at the same index
    /// of `type_refs_mut`: the two walks must agree, for every kind.
    #[test]
    fn the_shared_and_mutable_walks_agree() {
        let named = |name: &str| TypeRef::Named(name.to_owned());
        let field = |ty: TypeRef| Field {
            wire_name: String::new(),
            rust_name: String::new(),
            ty,
            serialize_null: false,
            presence: Presence::default(),
            docs: None,
        };
        let variant = |ty: TypeRef| UnionVariant {
            name: String::new(),
            ty,
            tags: Vec::new(),
        };
        let mut kinds = vec![
            TypeKind::Struct {
                fields: vec![field(named("A")), field(TypeRef::Vec(Box::new(named("B"))))],
            },
            TypeKind::UntaggedUnion {
                variants: vec![variant(named("C")), variant(TypeRef::String)],
                fallback: "Other".to_owned(),
            },
            TypeKind::Alias {
                target: TypeRef::Map(Box::new(named("D"))),
            },
            TypeKind::Literal {
                value: "x".to_owned(),
            },
        ];
        for kind in &mut kinds {
            let shared: Vec<TypeRef> = kind.type_refs().into_iter().cloned().collect();
            let mutable: Vec<TypeRef> = kind
                .type_refs_mut()
                .into_iter()
                .map(|t| t.clone())
                .collect();
            assert_eq!(shared, mutable);
        }
        let mut names = Vec::new();
        for ty in kinds[0].type_refs() {
            ty.names(&mut names);
        }
        assert_eq!(names, ["A", "B"]);
    }
}
