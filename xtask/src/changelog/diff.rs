//! The comparison itself: walks both documents side by side and records every change.

use super::*;

/// The differences found so far, and the two documents to resolve references in.
pub(super) struct Diff<'a> {
    pub(super) old: &'a OpenAPI,
    pub(super) new: &'a OpenAPI,
    pub(super) changes: Vec<Change>,
}

impl<'a> Diff<'a> {
    pub(super) fn push(
        &mut self,
        severity: Severity,
        kind: ChangeKind,
        place: &str,
        name: &str,
    ) -> &mut Change {
        self.changes.push(Change {
            severity,
            kind,
            place: place.to_owned(),
            name: name.to_owned(),
            old: None,
            new: None,
            required: None,
        });
        let last = self.changes.len() - 1;
        &mut self.changes[last]
    }

    pub(super) fn operation(&mut self, before: &OpEntry<'a>, after: &OpEntry<'a>) {
        self.parameters(before, after);
        self.request_body(before.op, after.op);
        self.responses(before.op, after.op);
    }

    pub(super) fn parameters(&mut self, before: &OpEntry<'a>, after: &OpEntry<'a>) {
        let old = parameter_map(self.old, before);
        let new = parameter_map(self.new, after);
        let keys: BTreeSet<&(u8, String)> = old.keys().chain(new.keys()).collect();
        for key in keys {
            match (old.get(key), new.get(key)) {
                (Some((name, p)), None) => {
                    let place = parameter_place(p);
                    self.push(
                        Severity::Breaking,
                        ChangeKind::ParameterRemoved,
                        place,
                        name,
                    );
                }
                (None, Some((name, p))) => {
                    let data = p.parameter_data_ref();
                    let severity = if data.required {
                        Severity::Breaking
                    } else {
                        Severity::Compatible
                    };
                    let ty = parameter_shape(data).map(|s| s.display());
                    let change = self.push(
                        severity,
                        ChangeKind::ParameterAdded,
                        parameter_place(p),
                        name,
                    );
                    change.new = ty;
                    change.required = Some(data.required);
                }
                (Some((_, a)), Some((name, b))) => {
                    let place = parameter_place(b);
                    let (da, db) = (a.parameter_data_ref(), b.parameter_data_ref());
                    if !da.required && db.required {
                        self.push(
                            Severity::Breaking,
                            ChangeKind::ParameterMadeRequired,
                            place,
                            name,
                        );
                    } else if da.required && !db.required {
                        self.push(
                            Severity::Compatible,
                            ChangeKind::ParameterMadeOptional,
                            place,
                            name,
                        );
                    }
                    let (sa, sb) = (parameter_shape(da), parameter_shape(db));
                    if sa.as_ref().map(|s| &s.text) != sb.as_ref().map(|s| &s.text) {
                        let change = self.push(
                            Severity::Breaking,
                            ChangeKind::ParameterRetyped,
                            place,
                            name,
                        );
                        change.old = sa.map(|s| s.display());
                        change.new = sb.map(|s| s.display());
                    } else if let (
                        ParameterSchemaOrContent::Schema(ReferenceOr::Item(sa)),
                        ParameterSchemaOrContent::Schema(ReferenceOr::Item(sb)),
                    ) = (&da.format, &db.format)
                    {
                        self.enum_values(sa, sb, place, name);
                    }
                }
                (None, None) => {}
            }
        }
    }

    pub(super) fn request_body(&mut self, before: &'a Operation, after: &'a Operation) {
        let old = before
            .request_body
            .as_ref()
            .and_then(|b| resolve_body(self.old, b));
        let new = after
            .request_body
            .as_ref()
            .and_then(|b| resolve_body(self.new, b));
        let place = "request body";
        match (
            old.and_then(|b| main_schema(&b.content)),
            new.and_then(|b| main_schema(&b.content)),
        ) {
            (None, None) => {}
            (Some(_), None) => {
                self.push(Severity::Breaking, ChangeKind::BodyRemoved, place, "");
            }
            (None, Some(schema)) => {
                let required = new.is_some_and(|b| b.required);
                let severity = if required {
                    Severity::Breaking
                } else {
                    Severity::Compatible
                };
                let change = self.push(severity, ChangeKind::BodyAdded, place, "");
                change.new = Some(shape(schema).display());
                change.required = Some(required);
            }
            (Some(a), Some(b)) => self.top(a, b, place, Flow::REQUEST),
        }
    }

    pub(super) fn responses(&mut self, before: &'a Operation, after: &'a Operation) {
        let old = response_map(&before.responses);
        let new = response_map(&after.responses);
        let codes: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        for code in codes {
            let success = code.starts_with('2') || code == "default";
            let gone = if success {
                Severity::Breaking
            } else {
                Severity::Compatible
            };
            match (old.get(code), new.get(code)) {
                (Some(_), None) => {
                    self.push(gone, ChangeKind::ResponseRemoved, "responses", code);
                }
                (None, Some(_)) => {
                    self.push(
                        Severity::Compatible,
                        ChangeKind::ResponseAdded,
                        "responses",
                        code,
                    );
                }
                (Some(a), Some(b)) => {
                    let a = resolve_response(self.old, a).and_then(|r| main_schema(&r.content));
                    let b = resolve_response(self.new, b).and_then(|r| main_schema(&r.content));
                    let place = format!("response {code}");
                    let body = format!("response {code} body");
                    match (a, b) {
                        (None, None) => {}
                        (Some(_), None) => {
                            self.push(gone, ChangeKind::BodyRemoved, &body, "");
                        }
                        (None, Some(schema)) => {
                            let change =
                                self.push(Severity::Compatible, ChangeKind::BodyAdded, &body, "");
                            change.new = Some(shape(schema).display());
                        }
                        (Some(a), Some(b)) => self.top(a, b, &place, Flow::RESPONSE),
                    }
                }
                (None, None) => {}
            }
        }
    }

    /// Compares the schema of a body or response. The same component on both sides is left to
    /// the "types" section; two different ones are compared field by field here.
    pub(super) fn top(&mut self, old: Node<'a>, new: Node<'a>, place: &str, flow: Flow) {
        if let (Node::Ref(a), Node::Ref(b)) = (old, new)
            && ref_name(a) == ref_name(b)
        {
            return;
        }
        let a = self.resolve(self.old, old);
        let b = self.resolve(self.new, new);
        match (a, b) {
            (Some(a), Some(b)) => self.schema(a, b, place, "", flow),
            _ => self.retyped_if_different(shape(old), shape(new), place, "", flow),
        }
    }

    /// Compares a component with its namesake.
    pub(super) fn root(
        &mut self,
        old: &'a ReferenceOr<Schema>,
        new: &'a ReferenceOr<Schema>,
        place: &str,
        flow: Flow,
    ) {
        let a = self.resolve(self.old, Node::of(old));
        let b = self.resolve(self.new, Node::of(new));
        if let (Some(a), Some(b)) = (a, b) {
            self.schema(a, b, place, "", flow);
        }
    }

    pub(super) fn resolve(&self, doc: &'a OpenAPI, node: Node<'a>) -> Option<&'a Schema> {
        match node {
            Node::Inline(schema) => Some(schema),
            Node::Ref(reference) => lookup_schema(doc, reference),
        }
    }

    /// Compares two inline schemas at `path` (a field path inside the body or type).
    pub(super) fn schema(
        &mut self,
        old: &'a Schema,
        new: &'a Schema,
        place: &str,
        path: &str,
        flow: Flow,
    ) {
        if named(Node::Inline(old)).is_some() || named(Node::Inline(new)).is_some() {
            self.field(Node::Inline(old), Node::Inline(new), place, path, flow);
            return;
        }
        let (sa, sb) = (shape_of(old), shape_of(new));
        if sa.text != sb.text {
            self.retyped(sa, sb, place, path, flow);
            return;
        }
        if sa.nullable != sb.nullable {
            self.retyped(sa, sb, place, path, flow);
        }
        self.contents(old, new, place, path, flow);
    }

    /// Compares what two schemas of the same shape hold: enum values, properties, items.
    pub(super) fn contents(
        &mut self,
        old: &'a Schema,
        new: &'a Schema,
        place: &str,
        path: &str,
        flow: Flow,
    ) {
        self.enum_values(old, new, place, path);
        if let (Some((pa, ra)), Some((pb, rb))) = (properties(old), properties(new)) {
            let names: BTreeSet<&String> = pa.keys().chain(pb.keys()).collect();
            for name in names {
                let field = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                match (pa.get(name), pb.get(name)) {
                    (Some(a), None) => {
                        let field_flow = flow.for_field(inline(a));
                        let severity = if field_flow.usage() == Usage::Unused {
                            Severity::Compatible
                        } else {
                            Severity::Breaking
                        };
                        let change = self.push(severity, ChangeKind::FieldRemoved, place, &field);
                        change.old = Some(shape(Node::of_boxed(a)).display());
                    }
                    (None, Some(b)) => {
                        let field_flow = flow.for_field(inline(b));
                        let required = rb.contains(name);
                        let severity = if required && field_flow.request {
                            Severity::Breaking
                        } else {
                            Severity::Compatible
                        };
                        let change = self.push(severity, ChangeKind::FieldAdded, place, &field);
                        change.new = Some(shape(Node::of_boxed(b)).display());
                        change.required = Some(required);
                    }
                    (Some(a), Some(b)) => {
                        let field_flow = flow.for_field(inline(b));
                        match (ra.contains(name), rb.contains(name)) {
                            (false, true) => {
                                let severity = if field_flow.request {
                                    Severity::Breaking
                                } else {
                                    Severity::Compatible
                                };
                                self.push(severity, ChangeKind::FieldMadeRequired, place, &field);
                            }
                            (true, false) => {
                                let severity = if field_flow.response {
                                    Severity::Breaking
                                } else {
                                    Severity::Compatible
                                };
                                self.push(severity, ChangeKind::FieldMadeOptional, place, &field);
                            }
                            _ => {}
                        }
                        self.field(
                            Node::of_boxed(a),
                            Node::of_boxed(b),
                            place,
                            &field,
                            field_flow,
                        );
                    }
                    (None, None) => {}
                }
            }
        }
        if let (Some(a), Some(b)) = (items(old), items(new)) {
            self.field(a, b, place, &format!("{path}[]"), flow);
        }
    }

    /// Compares a field's schemas. Two named types compare by name (their insides are the
    /// types section's business); two inline ones in depth. An inline schema that became a
    /// named type, or the reverse (drf-spectacular extracting `XEnum`s), compares by what the
    /// named type holds, so that only real differences are reported. This recursion ends: it
    /// only ever descends the inline side, which is finite.
    pub(super) fn field(
        &mut self,
        old: Node<'a>,
        new: Node<'a>,
        place: &str,
        path: &str,
        flow: Flow,
    ) {
        let (na, nb) = (named(old), named(new));
        match (old, new, na, nb) {
            (Node::Inline(a), Node::Inline(b), None, None) => self.schema(a, b, place, path, flow),
            (_, _, Some(x), Some(y)) if x != y => {
                self.retyped(shape(old), shape(new), place, path, flow);
            }
            (_, _, Some(_), Some(_)) => {
                self.retyped_if_different(shape(old), shape(new), place, path, flow)
            }
            _ => {
                let (sa, sb) = (shape(old), shape(new));
                let targets = (self.target(self.old, old), self.target(self.new, new));
                match targets {
                    (Some(ta), Some(tb)) if shape_of(ta).text == shape_of(tb).text => {
                        // Same values under a new name: only nullability can make it breaking.
                        let severity = if sa.nullable == sb.nullable {
                            Severity::Compatible
                        } else if sb.nullable {
                            if flow.response {
                                Severity::Breaking
                            } else {
                                Severity::Compatible
                            }
                        } else if flow.request {
                            Severity::Breaking
                        } else {
                            Severity::Compatible
                        };
                        let change = self.push(severity, ChangeKind::FieldRetyped, place, path);
                        change.old = Some(sa.display());
                        change.new = Some(sb.display());
                        self.contents(ta, tb, place, path, flow);
                    }
                    _ => self.retyped(sa, sb, place, path, flow),
                }
            }
        }
    }

    /// The schema a field's values follow: the named type's, or the inline one.
    pub(super) fn target(&self, doc: &'a OpenAPI, node: Node<'a>) -> Option<&'a Schema> {
        match (node, named_ref(node)) {
            (_, Some(reference)) => lookup_schema(doc, reference),
            (Node::Inline(schema), None) => Some(schema),
            (Node::Ref(_), None) => None,
        }
    }

    pub(super) fn retyped_if_different(
        &mut self,
        old: Shape,
        new: Shape,
        place: &str,
        path: &str,
        flow: Flow,
    ) {
        if old != new {
            self.retyped(old, new, place, path, flow);
        }
    }

    pub(super) fn retyped(&mut self, old: Shape, new: Shape, place: &str, path: &str, flow: Flow) {
        // Only nullability changed: allowing null hurts readers, forbidding it hurts writers.
        let severity = if old.text == new.text {
            let hurts = if new.nullable {
                flow.response
            } else {
                flow.request
            };
            if hurts {
                Severity::Breaking
            } else {
                Severity::Compatible
            }
        } else {
            Severity::Breaking
        };
        let change = self.push(severity, ChangeKind::FieldRetyped, place, path);
        change.old = Some(old.display());
        change.new = Some(new.display());
    }

    /// Added values are compatible in either direction: a server accepts more, and the
    /// generated enums decode values they do not know. A removed value is breaking even in a
    /// response, since its variant disappears from the generated enum.
    pub(super) fn enum_values(&mut self, old: &Schema, new: &Schema, place: &str, name: &str) {
        let (va, vb) = (enum_values(old), enum_values(new));
        // An enum appearing or disappearing is a retyping, reported by the caller.
        if va == vb || va.is_empty() || vb.is_empty() {
            return;
        }
        for value in vb.iter().filter(|v| !va.contains(v)) {
            let change = self.push(
                Severity::Compatible,
                ChangeKind::EnumValueAdded,
                place,
                name,
            );
            change.new = Some(value.clone());
        }
        for value in va.iter().filter(|v| !vb.contains(v)) {
            let change = self.push(
                Severity::Breaking,
                ChangeKind::EnumValueRemoved,
                place,
                name,
            );
            change.old = Some(value.clone());
        }
    }
}
