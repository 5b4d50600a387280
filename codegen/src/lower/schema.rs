//! Lowering of JSON schemas to named Rust types, with drf-spectacular's shapes folded.

mod allof;

use std::collections::{BTreeMap, BTreeSet};

use openapiv3::{
    AdditionalProperties, ObjectType, ReferenceOr, Schema, SchemaKind, StringType, Type,
};

use crate::diagnostic::Diagnostic;
use crate::ir::{EnumVariant, Field, Presence, TypeDef, TypeKind, TypeRef, UnionVariant};
use crate::lower::shapes::{
    docs_of, integer_type, normalized, primitive_variant_name, string_type,
};
use crate::naming::{NameSet, field_name, type_name};
use crate::report::{Report, pass};
use allof::AllOfShape;

const COMPONENT_PREFIX: &str = "#/components/schemas/";

/// How many inline schemas deep lowering may go: the document allows 40 levels
/// (`load::MAX_DEPTH`), and each costs ~12 KiB of stack in a debug build.
const MAX_LOWERING_DEPTH: usize = 64;

/// Lowers schemas into named types, collecting diagnostics instead of stopping at the first.
pub struct TypeLowering<'a> {
    components: &'a indexmap::IndexMap<String, ReferenceOr<Schema>>,
    /// Component key to Rust type name.
    component_names: BTreeMap<String, String>,
    /// Every name in the type namespace.
    names: NameSet,
    /// Types lowered so far.
    pub types: BTreeMap<String, TypeDef>,
    /// Enums that appear beside drf's `BlankEnum`, and so get a variant for `""`.
    blankable: BTreeSet<String>,
    /// Components whose properties are being merged into an `allOf` (as `$ref` strings).
    merging: Vec<String>,
    /// How many inline schemas lowering is inside of.
    depth: usize,
    /// How `$ref`s to other documents are treated.
    external_refs: crate::ExternalRefs,
    /// Names of the inline types lowered so far, in order, so that the types of an operation
    /// left out (`--skip-unsupported`) can be taken back.
    created: Vec<String>,
    /// Property wire name to its type-name and field-name forms. Components repeat the same
    /// property names (`id`, `name`, `created_at`, ...), and converting their case anew for
    /// every property was a tenth of a run. Only looked up, never iterated.
    wire_names: std::collections::HashMap<String, (String, String)>,
    /// What each pass touched.
    pub report: &'a mut Report,
    /// Problems found.
    pub diagnostics: &'a mut Vec<Diagnostic>,
}

impl<'a> TypeLowering<'a> {
    /// Names every component up front, so inline types never take a component's name.
    pub fn new(
        components: &'a indexmap::IndexMap<String, ReferenceOr<Schema>>,
        report: &'a mut Report,
        diagnostics: &'a mut Vec<Diagnostic>,
        external_refs: crate::ExternalRefs,
    ) -> Self {
        let mut names = NameSet::new();
        for reserved in crate::naming::RESERVED_TYPE_NAMES {
            names.reserve(reserved);
        }
        let mut component_names = BTreeMap::new();
        for key in components.keys() {
            let wanted = type_name(key);
            let name = names.claim(&wanted, "Schema");
            if name != wanted {
                report.touch(pass::RENAME, &format!("{COMPONENT_PREFIX}{key}"));
            }
            component_names.insert(key.clone(), name);
        }
        Self {
            components,
            component_names,
            names,
            types: BTreeMap::new(),
            blankable: BTreeSet::new(),
            merging: Vec::new(),
            depth: 0,
            external_refs,
            created: Vec::new(),
            wire_names: std::collections::HashMap::new(),
            report,
            diagnostics,
        }
    }

    /// Lowers every component schema (except drf's `BlankEnum`/`NullEnum` helpers, which are
    /// folded wherever they are used).
    pub fn lower_components(&mut self) {
        for (key, schema) in self.components {
            let pointer = format!(
                "{COMPONENT_PREFIX}{}",
                crate::diagnostic::escape_segment(key)
            );
            let Some(name) = self.component_names.get(key).cloned() else {
                continue;
            };
            if self.blank_or_null(schema).is_some() {
                // drf's BlankEnum / NullEnum exist only to be folded into the enums they sit
                // beside; on their own they are "" or null.
                continue;
            }
            match schema {
                ReferenceOr::Item(schema) => {
                    let kind = self.lower_named_kind(schema, &pointer, &name);
                    self.types.insert(
                        name,
                        TypeDef {
                            docs: docs_of(schema),
                            pointer,
                            kind,
                        },
                    );
                }
                ReferenceOr::Reference { reference } => {
                    let target = self.resolve_ref(reference, &pointer);
                    self.types.insert(
                        name,
                        TypeDef {
                            docs: None,
                            pointer,
                            kind: TypeKind::Alias { target },
                        },
                    );
                }
            }
        }
    }

    /// Adds the `""` variant to enums that drf pairs with `BlankEnum`.
    pub fn finish(&mut self) {
        for name in std::mem::take(&mut self.blankable) {
            if let Some(TypeDef {
                kind: TypeKind::StringEnum { variants, .. },
                ..
            }) = self.types.get_mut(&name)
                && !variants.iter().any(|v| v.value.is_empty())
            {
                let mut taken: NameSet = NameSet::new();
                for v in variants.iter() {
                    taken.reserve(&v.name);
                }
                variants.push(EnumVariant {
                    name: taken.claim("Blank", "Value"),
                    value: String::new(),
                });
            }
        }
        for cycle in crate::lower::recursion::alias_cycles(&self.types) {
            let Some(pointer) = cycle
                .first()
                .and_then(|first| self.types.get(first))
                .map(|def| def.pointer.clone())
            else {
                continue;
            };
            let names: Vec<String> = cycle
                .iter()
                .chain(cycle.first())
                .map(|name| self.component_key(name))
                .collect();
            self.diagnostics.push(Diagnostic::new(
                pointer,
                format!(
                    "these schemas only name each other ({}), so they describe no value: one of them needs a type of its own",
                    names.join(" -> ")
                ),
            ));
        }
        crate::lower::recursion::box_cycles(&mut self.types, self.report);
    }

    /// The component key a Rust type name was given to (itself for inline types).
    fn component_key(&self, rust_name: &str) -> String {
        self.component_names
            .iter()
            .find(|(_, name)| name.as_str() == rust_name)
            .map_or_else(|| rust_name.to_owned(), |(key, _)| key.clone())
    }

    /// How many inline types have been lowered: a mark for [`Self::forget_types_since`].
    pub fn types_mark(&self) -> usize {
        self.created.len()
    }

    /// Takes back the inline types lowered since `mark` (an operation left out).
    pub fn forget_types_since(&mut self, mark: usize) {
        for name in self.created.drain(mark.min(self.created.len())..) {
            self.types.remove(&name);
        }
    }

    /// A `$ref` to another document (a URL or a file): a diagnostic, or with
    /// `--external-refs=json` free-form JSON and a warning. `None` for a reference into this one.
    pub fn external_ref(&mut self, reference: &str, pointer: &str) -> Option<TypeRef> {
        if reference.starts_with('#') {
            return None;
        }
        match self.external_refs {
            crate::ExternalRefs::Refuse => self.diagnostics.push(Diagnostic::new(
                pointer,
                format!("`$ref: {reference}` names another document, which the generator does not read (it works offline, on one document): copy the schema into components, or pass --external-refs=json to type it as serde_json::Value"),
            )),
            crate::ExternalRefs::Json => {
                self.report.touch(pass::EXTERNAL_REF_AS_JSON, pointer);
                self.report.warnings.push(Diagnostic::new(
                    pointer,
                    format!("`$ref: {reference}` names another document: typed as serde_json::Value (--external-refs=json)"),
                ));
            }
        }
        Some(TypeRef::Json)
    }

    /// The type a `$ref` names.
    pub fn resolve_ref(&mut self, reference: &str, pointer: &str) -> TypeRef {
        if let Some(external) = self.external_ref(reference, pointer) {
            return external;
        }
        let Some(key) = reference.strip_prefix(COMPONENT_PREFIX) else {
            self.diagnostics.push(Diagnostic::new(
                pointer,
                format!("`$ref: {reference}` is not supported: only references to #/components/schemas/ are"),
            ));
            return TypeRef::Json;
        };
        let key = key.replace("~1", "/").replace("~0", "~");
        if let Some(helper) = self
            .components
            .get(&key)
            .and_then(|schema| self.blank_or_null(schema))
        {
            return match helper {
                BlankOrNull::Blank => TypeRef::String,
                BlankOrNull::Null => TypeRef::Json,
            };
        }
        match self.component_names.get(&key) {
            Some(name) => TypeRef::Named(name.clone()),
            None => {
                self.diagnostics.push(Diagnostic::new(
                    pointer,
                    format!("dangling `$ref: {reference}`: there is no component schema `{key}`"),
                ));
                TypeRef::Json
            }
        }
    }

    /// The component schema a `$ref` points at, if it is a plain schema.
    fn component_schema(&self, reference: &str) -> Option<&'a Schema> {
        let key = reference.strip_prefix(COMPONENT_PREFIX)?;
        match self.components.get(key)? {
            ReferenceOr::Item(schema) => Some(schema),
            ReferenceOr::Reference { .. } => None,
        }
    }

    /// Whether a `$ref` names one of drf-spectacular's `BlankEnum` / `NullEnum` helpers: an
    /// enum whose only value is `""` or `null`.
    fn blank_or_null(&self, schema: &ReferenceOr<Schema>) -> Option<BlankOrNull> {
        let schema = match schema {
            ReferenceOr::Reference { reference } => self.component_schema(reference)?,
            ReferenceOr::Item(schema) => schema,
        };
        match &schema.schema_kind {
            SchemaKind::Type(Type::String(StringType { enumeration, .. }))
                if enumeration.len() == 1 =>
            {
                match &enumeration[0] {
                    Some(value) if value.is_empty() => Some(BlankOrNull::Blank),
                    None => Some(BlankOrNull::Null),
                    Some(_) => None,
                }
            }
            SchemaKind::Any(any) if any.enumeration.len() == 1 => match &any.enumeration[0] {
                serde_json::Value::Null => Some(BlankOrNull::Null),
                serde_json::Value::String(s) if s.is_empty() => Some(BlankOrNull::Blank),
                _ => None,
            },
            _ => None,
        }
    }

    /// Lowers a schema used somewhere (a field, an item, a body): references stay references,
    /// inline shapes that need a name get `hint`.
    pub fn lower_use(
        &mut self,
        schema: &ReferenceOr<Schema>,
        pointer: &str,
        hint: &str,
    ) -> TypeRef {
        match schema {
            ReferenceOr::Reference { reference } => self.resolve_ref(reference, pointer),
            ReferenceOr::Item(schema) => self.lower_inline(schema, pointer, hint),
        }
    }

    /// Same as [`Self::lower_use`] for the boxed schemas `openapiv3` uses in properties.
    pub fn lower_boxed_use(
        &mut self,
        schema: &ReferenceOr<Box<Schema>>,
        pointer: &str,
        hint: &str,
    ) -> TypeRef {
        match schema {
            ReferenceOr::Reference { reference } => self.resolve_ref(reference, pointer),
            ReferenceOr::Item(schema) => self.lower_inline(schema, pointer, hint),
        }
    }

    fn lower_inline(&mut self, schema: &Schema, pointer: &str, hint: &str) -> TypeRef {
        let schema: &Schema = &normalized(schema);
        let ty = self.lower_inline_inner(schema, pointer, hint);
        if schema.schema_data.nullable {
            ty.optional()
        } else {
            ty
        }
    }

    /// Lowers an inline schema, counting how deep lowering has gone. The document's own
    /// nesting is bounded by `load::MAX_DEPTH`, but `allOf` merges lower the properties of the
    /// components they name again, one inside the other, so the stack needs its own bound.
    fn lower_inline_inner(&mut self, schema: &Schema, pointer: &str, hint: &str) -> TypeRef {
        if self.depth >= MAX_LOWERING_DEPTH {
            self.diagnostics.push(Diagnostic::new(
                pointer,
                format!("schemas nest more than {MAX_LOWERING_DEPTH} levels deep here, counting the properties allOf merges bring in"),
            ));
            return TypeRef::Json;
        }
        self.depth += 1;
        let ty = self.lower_inline_unbounded(schema, pointer, hint);
        self.depth -= 1;
        ty
    }

    fn lower_inline_unbounded(&mut self, schema: &Schema, pointer: &str, hint: &str) -> TypeRef {
        if let Some(ty) = self.primitive(schema, pointer) {
            return ty;
        }
        match &schema.schema_kind {
            SchemaKind::Type(Type::Array(array)) => {
                let item = match &array.items {
                    Some(items) => self.lower_boxed_use(
                        items,
                        &format!("{pointer}/items"),
                        &format!("{hint}Item"),
                    ),
                    None => TypeRef::Json,
                };
                TypeRef::Vec(Box::new(item))
            }
            SchemaKind::Type(Type::Object(object)) if object.properties.is_empty() => {
                self.map_of(object.additional_properties.as_ref(), pointer, hint)
            }
            SchemaKind::AllOf { all_of } if all_of.len() == 1 => {
                self.report.touch(pass::UNWRAP_SINGLE_ALLOF, pointer);
                self.lower_use(&all_of[0], &format!("{pointer}/allOf/0"), hint)
            }
            SchemaKind::AllOf { all_of } => match self.allof_shape(all_of) {
                AllOfShape::Merge => self.named_inline(schema, pointer, hint),
                shape => self.lower_allof_member(shape, all_of, pointer, hint),
            },
            SchemaKind::OneOf { one_of: members } | SchemaKind::AnyOf { any_of: members } => {
                if let Some(folded) = self.fold_blank_null(members, pointer, hint) {
                    return folded;
                }
                self.named_inline(schema, pointer, hint)
            }
            _ => self.named_inline(schema, pointer, hint),
        }
    }

    /// Gives an inline schema a name of its own (objects, enums, unions).
    fn named_inline(&mut self, schema: &Schema, pointer: &str, hint: &str) -> TypeRef {
        let name = self.names.claim(&type_name(hint), "Inline");
        let kind = self.lower_named_kind(schema, pointer, &name);
        if let TypeKind::Alias { target } = kind {
            // An inline alias is not worth a type of its own. Its name stays claimed, so the
            // names of later types do not depend on this one's shape.
            return target;
        }
        self.types.insert(
            name.clone(),
            TypeDef {
                docs: docs_of(schema),
                pointer: pointer.to_owned(),
                kind,
            },
        );
        self.created.push(name.clone());
        TypeRef::Named(name)
    }

    /// `oneOf: [X, BlankEnum?, NullEnum?]` becomes `Option<X>`, with a `""` variant on X when
    /// `BlankEnum` was there.
    fn fold_blank_null(
        &mut self,
        members: &[ReferenceOr<Schema>],
        pointer: &str,
        hint: &str,
    ) -> Option<TypeRef> {
        let mut rest = Vec::new();
        let (mut blank, mut null) = (false, false);
        for (index, member) in members.iter().enumerate() {
            match self.blank_or_null(member) {
                Some(BlankOrNull::Blank) => blank = true,
                Some(BlankOrNull::Null) => null = true,
                None => rest.push((index, member)),
            }
        }
        if !(blank || null) || rest.len() != 1 {
            return None;
        }
        self.report.touch(pass::FOLD_BLANK_NULL_ENUM, pointer);
        let (index, member) = rest[0];
        let ty = self.lower_use(member, &format!("{pointer}/oneOf/{index}"), hint);
        if blank && let TypeRef::Named(name) = &ty {
            self.blankable.insert(name.clone());
        }
        Some(if null { ty.optional() } else { ty })
    }

    fn map_of(
        &mut self,
        additional: Option<&AdditionalProperties>,
        pointer: &str,
        hint: &str,
    ) -> TypeRef {
        match additional {
            Some(AdditionalProperties::Schema(schema)) => {
                let value = self.lower_use(
                    schema,
                    &format!("{pointer}/additionalProperties"),
                    &format!("{hint}Value"),
                );
                TypeRef::Map(Box::new(value))
            }
            Some(AdditionalProperties::Any(true)) => TypeRef::Map(Box::new(TypeRef::Json)),
            _ => TypeRef::Json,
        }
    }

    /// Primitive schemas: no name needed.
    fn primitive(&mut self, schema: &Schema, pointer: &str) -> Option<TypeRef> {
        Some(match &schema.schema_kind {
            SchemaKind::Type(Type::Boolean(_)) => TypeRef::Bool,
            SchemaKind::Type(Type::Number(_)) => TypeRef::F64,
            SchemaKind::Type(Type::Integer(integer)) if integer.enumeration.is_empty() => {
                integer_type(integer)
            }
            SchemaKind::Type(Type::String(string)) if string.enumeration.is_empty() => {
                string_type(string)
            }
            SchemaKind::Type(Type::String(string))
                if string.enumeration.iter().all(Option::is_none) =>
            {
                TypeRef::Json
            }
            SchemaKind::Any(any)
                if any.enumeration.is_empty()
                    && any.properties.is_empty()
                    && any.one_of.is_empty()
                    && any.any_of.is_empty()
                    && any.all_of.is_empty()
                    && any.items.is_none() =>
            {
                match any.typ.as_deref() {
                    Some("string") => TypeRef::String,
                    Some("integer") => TypeRef::I64,
                    Some("number") => TypeRef::F64,
                    Some("boolean") => TypeRef::Bool,
                    _ => TypeRef::Json,
                }
            }
            SchemaKind::Any(any) if !any.enumeration.is_empty() => {
                self.report.touch(pass::MIXED_ENUM_AS_JSON, pointer);
                TypeRef::Json
            }
            SchemaKind::Not { .. } => TypeRef::Json,
            // JSON Schema wants a non-empty list, but an empty one constrains nothing: it is the
            // free-form schema `{}`. Naming it instead would loop, as an alias of itself.
            SchemaKind::AllOf { all_of } if all_of.is_empty() => {
                self.report.touch(pass::EMPTY_ALLOF, pointer);
                TypeRef::Json
            }
            _ => return None,
        })
    }

    /// The definition of a type that has a name (a component, or an inline shape we named).
    fn lower_named_kind(&mut self, schema: &Schema, pointer: &str, name: &str) -> TypeKind {
        let schema: &Schema = &normalized(schema);
        match &schema.schema_kind {
            SchemaKind::Type(Type::Object(object)) if !object.properties.is_empty() => {
                TypeKind::Struct {
                    fields: self.fields(object, pointer, name),
                }
            }
            SchemaKind::Type(Type::String(string)) if !string.enumeration.is_empty() => {
                self.string_enum(&string.enumeration, pointer)
            }
            SchemaKind::Type(Type::Integer(integer)) if !integer.enumeration.is_empty() => {
                let values: Vec<i64> = integer.enumeration.iter().flatten().copied().collect();
                if values.len() < integer.enumeration.len() {
                    self.report.touch(pass::NULL_IN_ENUM, pointer);
                }
                let mut variants_names = NameSet::new();
                let variants = values
                    .iter()
                    .map(|value| EnumVariant {
                        name: variants_names
                            .claim(&type_name(&format!("V{value}").replace('-', "Minus")), "V"),
                        value: *value,
                    })
                    .collect();
                TypeKind::IntegerEnum {
                    variants,
                    fallback: variants_names.claim("Other", "Value"),
                }
            }
            SchemaKind::AllOf { all_of } if all_of.len() > 1 => match self.allof_shape(all_of) {
                AllOfShape::Merge => {
                    self.report.touch(pass::MERGE_ALLOF, pointer);
                    TypeKind::Struct {
                        fields: self.merged_fields(all_of, pointer, name),
                    }
                }
                // One inline typed member: the component keeps its name for that member's type.
                AllOfShape::Single(index) if !allof::nullable_annotation(all_of) => {
                    match &all_of[index] {
                        ReferenceOr::Item(member) => {
                            self.report.touch(pass::ALLOF_ANNOTATION_MEMBER, pointer);
                            self.lower_named_kind(member, &format!("{pointer}/allOf/{index}"), name)
                        }
                        ReferenceOr::Reference { .. } => TypeKind::Alias {
                            target: self.lower_allof_member(
                                AllOfShape::Single(index),
                                all_of,
                                pointer,
                                &format!("{name}Inner"),
                            ),
                        },
                    }
                }
                shape => TypeKind::Alias {
                    target: self.lower_allof_member(
                        shape,
                        all_of,
                        pointer,
                        &format!("{name}Inner"),
                    ),
                },
            },
            SchemaKind::OneOf { one_of: members } | SchemaKind::AnyOf { any_of: members } => {
                self.union(schema, members, pointer, name)
            }
            SchemaKind::Type(Type::Array(_))
            | SchemaKind::Type(Type::Object(_))
            | SchemaKind::AllOf { .. } => {
                let mut inner = schema.clone();
                inner.schema_data.nullable = false;
                let target = self.lower_inline_inner(&inner, pointer, &format!("{name}Inner"));
                TypeKind::Alias { target }
            }
            _ => TypeKind::Alias {
                target: self.primitive(schema, pointer).unwrap_or(TypeRef::Json),
            },
        }
    }

    fn string_enum(&mut self, values: &[Option<String>], pointer: &str) -> TypeKind {
        let present: Vec<&String> = values.iter().flatten().collect();
        if present.len() < values.len() {
            self.report.touch(pass::NULL_IN_ENUM, pointer);
        }
        if let [only] = present.as_slice()
            && !only.is_empty()
        {
            self.report.touch(pass::LITERAL_TAG, pointer);
            return TypeKind::Literal {
                value: (*only).clone(),
            };
        }
        let mut variant_names = NameSet::new();
        let variants = present
            .iter()
            .map(|value| EnumVariant {
                name: variant_names.claim(
                    &type_name(if value.is_empty() { "Blank" } else { value }),
                    "V",
                ),
                value: (*value).clone(),
            })
            .collect();
        TypeKind::StringEnum {
            variants,
            fallback: variant_names.claim("Other", "Value"),
        }
    }

    fn union(
        &mut self,
        schema: &Schema,
        members: &[ReferenceOr<Schema>],
        pointer: &str,
        name: &str,
    ) -> TypeKind {
        let keyword = if matches!(schema.schema_kind, SchemaKind::OneOf { .. }) {
            "oneOf"
        } else {
            "anyOf"
        };
        let mut variant_names = NameSet::new();
        variant_names.reserve("Other");
        let mut variants = Vec::new();
        for (index, member) in members.iter().enumerate() {
            let member_pointer = format!("{pointer}/{keyword}/{index}");
            if let Some(BlankOrNull::Null) = self.blank_or_null(member) {
                continue;
            }
            let ty = self.lower_use(member, &member_pointer, &format!("{name}Variant{index}"));
            let wanted = match &ty {
                TypeRef::Named(target) => target
                    .strip_prefix(name)
                    .filter(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
                    .unwrap_or(target)
                    .to_owned(),
                other => primitive_variant_name(other).to_owned(),
            };
            variants.push(UnionVariant {
                name: variant_names.claim(&wanted, "Variant"),
                ty,
                tags: Vec::new(),
            });
        }
        match &schema.schema_data.discriminator {
            Some(discriminator) => {
                for variant in &mut variants {
                    let TypeRef::Named(target) = &variant.ty else {
                        continue;
                    };
                    for (tag, reference) in &discriminator.mapping {
                        let named = match reference.strip_prefix(COMPONENT_PREFIX) {
                            Some(key) => self.component_names.get(key).cloned(),
                            None => self.component_names.get(reference).cloned(),
                        };
                        if named.as_deref() == Some(target.as_str()) {
                            variant.tags.push(tag.clone());
                        }
                    }
                    if variant.tags.is_empty() {
                        // Without a mapping entry, OpenAPI says the tag is the schema's name
                        // (the component key, not our Rust name for it).
                        let key = self
                            .component_names
                            .iter()
                            .find(|(_, rust)| *rust == target)
                            .map(|(key, _)| key.clone());
                        variant.tags.push(key.unwrap_or_else(|| target.clone()));
                    }
                }
                TypeKind::TaggedUnion {
                    tag: discriminator.property_name.clone(),
                    variants,
                }
            }
            None => {
                // Variants are tried in order and plain JSON matches anything, so a free-form
                // member listed before typed ones would shadow them (PostHog's
                // `DataTableNode.response` lists `{}` first). It becomes the fallback instead.
                let fallback = variants
                    .iter()
                    .find(|variant| variant.ty == TypeRef::Json)
                    .map(|variant| variant.name.clone());
                variants.retain(|variant| variant.ty != TypeRef::Json);
                if fallback.is_some() {
                    self.report.touch(pass::JSON_MEMBER_AS_FALLBACK, pointer);
                }
                TypeKind::UntaggedUnion {
                    variants,
                    fallback: fallback.unwrap_or_else(|| "Other".to_owned()),
                }
            }
        }
    }

    fn fields(&mut self, object: &ObjectType, pointer: &str, owner: &str) -> Vec<Field> {
        let properties: Vec<Property<'_>> = object
            .properties
            .iter()
            .map(|(wire_name, schema)| Property {
                wire_name,
                schema,
                pointer: property_pointer(pointer, wire_name),
            })
            .collect();
        self.fields_of(&properties, &object.required, owner)
    }

    /// Fields of properties that may come from several schemas (a merged `allOf`), each with
    /// the pointer of the place it was written.
    fn fields_of(
        &mut self,
        properties: &[Property<'_>],
        required: &[String],
        owner: &str,
    ) -> Vec<Field> {
        let mut rust_names = NameSet::new();
        let mut fields = Vec::with_capacity(properties.len());
        for property in properties {
            let (wire_name, schema) = (property.wire_name, property.schema);
            let field_pointer = property.pointer.as_str();
            let (type_part, wanted) = self.wire_name_forms(wire_name);
            let hint = format!("{owner}{type_part}");
            let ty = self.lower_boxed_use(schema, field_pointer, &hint);
            let (read_only, write_only, nullable, docs) = match schema {
                ReferenceOr::Item(s) => (
                    s.schema_data.read_only,
                    s.schema_data.write_only,
                    s.schema_data.nullable,
                    docs_of(s),
                ),
                ReferenceOr::Reference { .. } => (false, false, false, None),
            };
            let required = required.contains(wire_name);
            let presence = Presence {
                required,
                nullable: nullable || ty.is_option(),
                read_only,
                write_only,
            };
            // A server-set (readOnly) or request-only (writeOnly) field is absent from one
            // direction, so it can only be required in Rust if it is neither.
            let always_present = required && !read_only && !write_only;
            let ty = if always_present { ty } else { ty.optional() };
            let rust_name = rust_names.claim(&wanted, "_");
            if rust_name != wanted {
                self.report.touch(pass::RENAME, field_pointer);
            }
            fields.push(Field {
                wire_name: wire_name.clone(),
                rust_name,
                serialize_null: required && nullable && !read_only,
                presence,
                ty,
                docs,
            });
        }
        fields
    }

    /// [`type_name`] and [`field_name`] of a property's wire name, converted once per run.
    fn wire_name_forms(&mut self, wire_name: &str) -> (String, String) {
        if let Some(forms) = self.wire_names.get(wire_name) {
            return forms.clone();
        }
        let forms = (type_name(wire_name), field_name(wire_name));
        self.wire_names.insert(wire_name.to_owned(), forms.clone());
        forms
    }
}

/// One property to lower as a field, with the pointer of the place it was written.
struct Property<'s> {
    wire_name: &'s String,
    schema: &'s ReferenceOr<Box<Schema>>,
    pointer: String,
}

/// The pointer of property `name` of the schema at `schema_pointer`.
fn property_pointer(schema_pointer: &str, name: &str) -> String {
    format!(
        "{schema_pointer}/properties/{}",
        crate::diagnostic::escape_segment(name)
    )
}

enum BlankOrNull {
    Blank,
    Null,
}
