//! `allOf` lowering: which members describe the value and which only annotate it, one typed
//! member refined by annotations, and merges of object members level by level.

use openapiv3::{ReferenceOr, Schema, SchemaKind, Type};

use super::{MAX_LOWERING_DEPTH, Property, TypeLowering, property_pointer};
use crate::diagnostic::Diagnostic;
use crate::ir::{Field, TypeRef};
use crate::lower::shapes::normalized;
use crate::report::pass;

/// What an `allOf` of several members describes.
pub(super) enum AllOfShape {
    /// Members that are all objects (or `allOf`s of them): one struct of their properties.
    Merge,
    /// One member describes the value; the others only annotate it (a description, bounds).
    Single(usize),
    /// Only annotations: any JSON value.
    Json,
    /// A member names another document: lowered as that reference (a diagnostic, or JSON).
    External(usize),
    /// A member that cannot be merged with the object members beside it.
    Conflict(usize),
}

/// Whether a member says `nullable` (drf-spectacular puts it beside the members, but a
/// hand-written schema may put it in one).
pub(super) fn nullable_annotation(members: &[ReferenceOr<Schema>]) -> bool {
    members
        .iter()
        .any(|member| matches!(member, ReferenceOr::Item(schema) if schema.schema_data.nullable))
}

/// What one `allOf` member is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MemberKind {
    Annotation,
    Object,
    Nested,
    External,
    Other,
}

impl<'a> TypeLowering<'a> {
    /// Sorts an `allOf`'s members (more than one) into what it describes.
    pub(super) fn allof_shape(&self, members: &[ReferenceOr<Schema>]) -> AllOfShape {
        let kinds: Vec<MemberKind> = members.iter().map(|m| self.member_kind(m)).collect();
        if let Some(index) = kinds.iter().position(|k| *k == MemberKind::External) {
            return AllOfShape::External(index);
        }
        let typed: Vec<usize> = (0..kinds.len())
            .filter(|i| kinds[*i] != MemberKind::Annotation)
            .collect();
        match typed.as_slice() {
            [] => AllOfShape::Json,
            [only] => AllOfShape::Single(*only),
            _ => match typed.iter().find(|i| kinds[**i] == MemberKind::Other) {
                Some(index) => AllOfShape::Conflict(*index),
                None => AllOfShape::Merge,
            },
        }
    }

    fn member_kind(&self, member: &ReferenceOr<Schema>) -> MemberKind {
        let schema = match member {
            ReferenceOr::Reference { reference } if !reference.starts_with('#') => {
                return MemberKind::External;
            }
            ReferenceOr::Reference { reference } => match self.component_schema(reference) {
                Some(schema) => schema,
                None => return MemberKind::Other,
            },
            ReferenceOr::Item(schema) => schema,
        };
        match &normalized(schema).schema_kind {
            SchemaKind::Type(Type::Object(_)) => MemberKind::Object,
            SchemaKind::AllOf { .. } => MemberKind::Nested,
            SchemaKind::Any(any)
                if matches!(member, ReferenceOr::Item(_))
                    && any.typ.is_none()
                    && any.enumeration.is_empty()
                    && any.items.is_none()
                    && any.not.is_none()
                    && any.additional_properties.is_none()
                    && any.properties.is_empty() =>
            {
                MemberKind::Annotation
            }
            _ => MemberKind::Other,
        }
    }

    /// Lowers an `allOf` whose shape is not a merge: the one typed member (optional when an
    /// annotation says `nullable`), JSON, or a diagnostic.
    pub(super) fn lower_allof_member(
        &mut self,
        shape: AllOfShape,
        members: &[ReferenceOr<Schema>],
        pointer: &str,
        hint: &str,
    ) -> TypeRef {
        match shape {
            AllOfShape::Single(index) => {
                self.report.touch(pass::ALLOF_ANNOTATION_MEMBER, pointer);
                let ty = self.lower_use(&members[index], &format!("{pointer}/allOf/{index}"), hint);
                if nullable_annotation(members) {
                    ty.optional()
                } else {
                    ty
                }
            }
            AllOfShape::Json => {
                self.report.touch(pass::ALLOF_ANNOTATION_MEMBER, pointer);
                TypeRef::Json
            }
            AllOfShape::External(index) => {
                if let ReferenceOr::Reference { reference } = &members[index] {
                    self.resolve_ref(reference, &format!("{pointer}/allOf/{index}"));
                }
                TypeRef::Json
            }
            AllOfShape::Conflict(index) => {
                self.conflict(members, index, pointer);
                TypeRef::Json
            }
            AllOfShape::Merge => TypeRef::Json,
        }
    }

    fn conflict(&mut self, members: &[ReferenceOr<Schema>], index: usize, pointer: &str) {
        let what = match &members[index] {
            ReferenceOr::Reference { reference } => match self.component_schema(reference) {
                Some(schema) => format!("`{reference}`, {}", kind_word(schema)),
                None => format!("`{reference}`, which is not a component schema"),
            },
            ReferenceOr::Item(schema) => kind_word(schema),
        };
        self.diagnostics.push(Diagnostic::new(
            format!("{pointer}/allOf/{index}"),
            format!(
                "this allOf member is {what}, which cannot be merged with the object members beside it: an allOf must be objects (or references to them) to merge, or one typed member refined by annotations"
            ),
        ));
    }

    /// `allOf` of several schemas: the union of their properties, later ones winning, members
    /// that are `allOf`s themselves merged level by level and annotations set aside.
    ///
    /// A member that references a component brings that component's properties, which are
    /// lowered again here; if one of them holds an `allOf` merging the same component, that
    /// would never end, so it is refused at the member that closes the cycle.
    pub(super) fn merged_fields(
        &mut self,
        members: &[ReferenceOr<Schema>],
        pointer: &str,
        owner: &str,
    ) -> Vec<Field> {
        let mut merge = Merge::default();
        self.collect(members, pointer, &mut merge, 0);
        let depth = self.merging.len();
        self.merging.extend(merge.entered);
        let properties: Vec<Property<'_>> = merge.properties.into_values().collect();
        let fields = self.fields_of(&properties, &merge.required, owner);
        self.merging.truncate(depth);
        fields
    }

    /// Gathers the properties of `members` (an `allOf` at `pointer`) into `merge`.
    fn collect<'m>(
        &mut self,
        members: &'m [ReferenceOr<Schema>],
        pointer: &str,
        merge: &mut Merge<'m>,
        level: usize,
    ) where
        'a: 'm,
    {
        if level >= MAX_LOWERING_DEPTH {
            self.diagnostics.push(Diagnostic::new(
                pointer,
                format!("allOf members nest more than {MAX_LOWERING_DEPTH} levels deep here"),
            ));
            return;
        }
        for (index, member) in members.iter().enumerate() {
            let member_pointer = format!("{pointer}/allOf/{index}");
            let (schema, base) = match member {
                ReferenceOr::Item(schema) => (Some(schema), member_pointer.clone()),
                ReferenceOr::Reference { reference } => {
                    if self.merging.contains(reference) || merge.entered.contains(reference) {
                        self.diagnostics.push(Diagnostic::new(
                            member_pointer,
                            format!("this allOf is inside `{reference}` and merges it: the merge never ends; give the inner object a component of its own"),
                        ));
                        continue;
                    }
                    merge.entered.push(reference.clone());
                    (self.component_schema(reference), reference.clone())
                }
            };
            let kind = self.member_kind(member);
            match schema.map(|s| &s.schema_kind) {
                Some(SchemaKind::Type(Type::Object(object))) => {
                    merge.add(&object.properties, &object.required, &base);
                }
                Some(SchemaKind::AllOf { all_of }) => {
                    self.report.touch(pass::NESTED_ALLOF, &member_pointer);
                    self.collect(all_of, &base, merge, level + 1);
                }
                Some(SchemaKind::Any(any)) if kind == MemberKind::Nested => {
                    self.report.touch(pass::NESTED_ALLOF, &member_pointer);
                    self.collect(&any.all_of, &base, merge, level + 1);
                }
                _ if kind == MemberKind::Annotation => {
                    self.report
                        .touch(pass::ALLOF_ANNOTATION_MEMBER, &member_pointer);
                }
                _ if kind == MemberKind::Object => {
                    // An object written with other keywords beside `type` (openapiv3's `Any`).
                    if let Some(schema) = schema
                        && let SchemaKind::Any(any) = &schema.schema_kind
                    {
                        merge.add(&any.properties, &any.required, &base);
                    }
                }
                _ => self.conflict(members, index, pointer),
            }
        }
    }
}

/// What a merge has gathered so far.
#[derive(Default)]
struct Merge<'a> {
    properties: indexmap::IndexMap<&'a str, Property<'a>>,
    required: Vec<String>,
    /// Components whose properties were brought in (as `$ref` strings).
    entered: Vec<String>,
}

impl<'m> Merge<'m> {
    /// Adds the properties of one object member written at `base`, replacing earlier ones.
    fn add(
        &mut self,
        properties: &'m indexmap::IndexMap<String, ReferenceOr<Box<Schema>>>,
        required: &[String],
        base: &str,
    ) {
        for (key, value) in properties {
            self.properties.insert(
                key,
                Property {
                    wire_name: key,
                    schema: value,
                    pointer: property_pointer(base, key),
                },
            );
        }
        self.required.extend(required.iter().cloned());
    }
}

/// What a schema is, for messages.
fn kind_word(schema: &Schema) -> String {
    let word = match &schema.schema_kind {
        SchemaKind::Type(Type::String(_)) => "a string schema",
        SchemaKind::Type(Type::Number(_)) => "a number schema",
        SchemaKind::Type(Type::Integer(_)) => "an integer schema",
        SchemaKind::Type(Type::Boolean(_)) => "a boolean schema",
        SchemaKind::Type(Type::Array(_)) => "an array schema",
        SchemaKind::Type(Type::Object(_)) => "an object schema",
        SchemaKind::OneOf { .. } => "a oneOf union",
        SchemaKind::AnyOf { .. } => "an anyOf union",
        SchemaKind::AllOf { .. } => "an allOf",
        SchemaKind::Not { .. } => "a `not` schema",
        SchemaKind::Any(any) => match any.typ.as_deref() {
            Some(typ) => return format!("a `{typ}` schema"),
            None if !any.enumeration.is_empty() => "an enum",
            None => "an untyped schema",
        },
    };
    word.to_owned()
}
