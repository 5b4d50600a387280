//! The overlay step: reviewed corrections to PostHog's document, written as OpenAPI Overlay 1.0
//! documents and applied to its raw JSON before it is parsed.
//!
//! PostHog's drf-spectacular output gets some operations wrong (an `@action` documented with its
//! viewset's serializer, an endpoint left out, a parameter not declared). Each correction is an
//! overlay action whose `description` names the server code or docs page it was checked
//! against. An action that matches nothing is an error, never a no-op: when PostHog fixes a hole
//! upstream (or moves the path), regeneration fails and the action is removed, instead of an
//! overlay silently doing nothing.

use serde_json::{Map, Value};
use serde_json_path::JsonPath;

use crate::Input;
use crate::diagnostic::{Diagnostic, Diagnostics, Source};
use crate::report::Report;

/// What one overlay document did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverlayReport {
    /// Where the overlay came from (e.g. `schema/overlays/10-query.yaml`).
    pub source: String,
    /// Actions applied.
    pub actions: usize,
    /// Nodes of the document the actions updated or removed.
    pub nodes: usize,
}

/// One validated action.
struct Action {
    index: usize,
    target: String,
    path: JsonPath,
    change: Change,
}

enum Change {
    Update(Value),
    Remove,
}

/// One validated overlay document.
struct Overlay<'a> {
    source: &'a str,
    actions: Vec<Action>,
}

/// Applies `overlays`, in the order given, to `doc`, recording each in `report`.
///
/// Every overlay is validated before any is applied, so a malformed one is reported without
/// half-applying the others. Diagnostics name the overlay file and the action index
/// (`schema/overlays/10-query.yaml#/actions/2`) and quote the action's JSONPath.
pub fn apply_overlays(
    doc: &mut Value,
    overlays: &[Input<'_>],
    report: &mut Report,
) -> Result<(), Diagnostics> {
    let mut diagnostics = Vec::new();
    let mut parsed = Vec::with_capacity(overlays.len());
    for input in overlays {
        let first = diagnostics.len();
        if let Some(overlay) = validate(input, &mut diagnostics) {
            parsed.push(overlay);
        }
        attribute(&mut diagnostics[first..], &input.source);
    }
    if !diagnostics.is_empty() {
        return Err(Diagnostics(diagnostics));
    }
    for overlay in &parsed {
        let mut done = OverlayReport {
            source: overlay.source.to_owned(),
            ..OverlayReport::default()
        };
        let first = diagnostics.len();
        for action in &overlay.actions {
            match apply_action(doc, action) {
                Ok(nodes) => {
                    done.actions += 1;
                    done.nodes += nodes;
                }
                Err(message) => diagnostics.push(Diagnostic::new(
                    action_pointer(action.index),
                    format!("target `{}`: {message}", action.target),
                )),
            }
        }
        attribute(&mut diagnostics[first..], overlay.source);
        report.overlays.push(done);
    }
    if diagnostics.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(diagnostics))
    }
}

/// The pointer of action `index` inside its overlay document.
fn action_pointer(index: usize) -> String {
    format!("#/actions/{index}")
}

/// Points diagnostics made with pointers into the overlay `file` at that file and its action.
fn attribute(diagnostics: &mut [Diagnostic], file: &str) {
    for diagnostic in diagnostics {
        diagnostic.source = Source::overlay(file, &diagnostic.pointer);
    }
}

/// Checks that `input` is an Overlay 1.0 document whose every action is usable.
fn validate<'a>(input: &'a Input<'_>, diagnostics: &mut Vec<Diagnostic>) -> Option<Overlay<'a>> {
    let source = input.source.as_str();
    let at = |pointer: &str| format!("#{pointer}");
    let value = match crate::load::parse_value(input.bytes) {
        Ok(value) => value,
        Err(errors) => {
            for error in errors.0 {
                diagnostics.push(Diagnostic::new(at(""), error.message));
            }
            return None;
        }
    };
    let Some(root) = value.as_object() else {
        diagnostics.push(Diagnostic::new(
            at(""),
            "not an overlay: expected an object with `overlay`, `info` and `actions`",
        ));
        return None;
    };
    let before = diagnostics.len();
    match root.get("overlay") {
        Some(Value::String(version)) if version.starts_with("1.0.") => {}
        Some(other) => diagnostics.push(Diagnostic::new(
            at("/overlay"),
            format!("OpenAPI Overlay {other} is not supported; expected 1.0.x"),
        )),
        None => diagnostics.push(Diagnostic::new(
            at("/overlay"),
            "not an overlay: the `overlay` version (1.0.0) is missing",
        )),
    }
    let info = root.get("info").and_then(Value::as_object);
    for key in ["title", "version"] {
        if !info.is_some_and(|info| info.get(key).is_some_and(Value::is_string)) {
            diagnostics.push(Diagnostic::new(
                at(&format!("/info/{key}")),
                format!("an overlay's `info` needs a `{key}` string"),
            ));
        }
    }
    unknown_keys(
        root,
        &["overlay", "info", "extends", "actions"],
        &at(""),
        diagnostics,
    );
    let actions = match root.get("actions") {
        Some(Value::Array(actions)) if !actions.is_empty() => actions,
        _ => {
            diagnostics.push(Diagnostic::new(
                at("/actions"),
                "an overlay needs a non-empty `actions` list",
            ));
            return None;
        }
    };
    let mut valid = Vec::with_capacity(actions.len());
    for (index, action) in actions.iter().enumerate() {
        if let Some(action) = validate_action(index, action, diagnostics) {
            valid.push(action);
        }
    }
    (diagnostics.len() == before).then_some(Overlay {
        source,
        actions: valid,
    })
}

fn validate_action(
    index: usize,
    action: &Value,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Action> {
    let pointer = action_pointer(index);
    let Some(action) = action.as_object() else {
        diagnostics.push(Diagnostic::new(
            pointer,
            "an action must be an object with `target`, `description` and `update` or `remove`",
        ));
        return None;
    };
    let before = diagnostics.len();
    unknown_keys(
        action,
        &["target", "description", "update", "remove"],
        &pointer,
        diagnostics,
    );
    let target = match action.get("target") {
        Some(Value::String(target)) => target.clone(),
        _ => {
            diagnostics.push(Diagnostic::new(
                format!("{pointer}/target"),
                "an action needs a `target` JSONPath string",
            ));
            String::new()
        }
    };
    let described = action
        .get("description")
        .and_then(Value::as_str)
        .is_some_and(|text| !text.trim().is_empty());
    if !described {
        diagnostics.push(Diagnostic::new(
            format!("{pointer}/description"),
            format!(
                "target `{target}`: every action needs a `description` naming the PostHog source \
                 (server code path or docs page) it was checked against"
            ),
        ));
    }
    let change = match (action.get("update"), action.get("remove")) {
        (Some(update), None | Some(Value::Bool(false))) => Some(Change::Update(update.clone())),
        (None, Some(Value::Bool(true))) => Some(Change::Remove),
        (Some(_), Some(Value::Bool(true))) => {
            diagnostics.push(Diagnostic::new(
                pointer.clone(),
                format!("target `{target}`: an action either updates or removes, not both"),
            ));
            None
        }
        (_, Some(other)) if !other.is_boolean() => {
            diagnostics.push(Diagnostic::new(
                format!("{pointer}/remove"),
                format!("target `{target}`: `remove` must be true or false, found {other}"),
            ));
            None
        }
        _ => {
            diagnostics.push(Diagnostic::new(
                pointer.clone(),
                format!("target `{target}`: the action has neither `update` nor `remove: true`"),
            ));
            None
        }
    };
    let path = match JsonPath::parse(&target) {
        Ok(path) => Some(path),
        Err(error) if !target.is_empty() => {
            diagnostics.push(Diagnostic::new(
                format!("{pointer}/target"),
                format!("`{target}` is not a valid RFC 9535 JSONPath: {error}"),
            ));
            None
        }
        Err(_) => None,
    };
    match (path, change) {
        (Some(path), Some(change)) if diagnostics.len() == before => Some(Action {
            index,
            target,
            path,
            change,
        }),
        _ => None,
    }
}

/// Reports members other than `known` and `x-` extensions: a misspelt `updates` must not turn
/// an action into one that silently does something else.
fn unknown_keys(
    object: &Map<String, Value>,
    known: &[&str],
    pointer: &str,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for key in object.keys() {
        if !known.contains(&key.as_str()) && !key.starts_with("x-") {
            diagnostics.push(Diagnostic::new(
                format!("{pointer}/{}", crate::diagnostic::escape_segment(key)),
                format!(
                    "unknown member `{key}`; expected one of {}",
                    known.join(", ")
                ),
            ));
        }
    }
}

/// Applies one action; returns how many nodes it changed, or why it could not.
fn apply_action(doc: &mut Value, action: &Action) -> Result<usize, String> {
    let pointers: Vec<String> = action
        .path
        .query_located(doc)
        .locations()
        .map(|location| location.to_json_pointer())
        .collect();
    if pointers.is_empty() {
        return Err(
            "matches nothing in the document; if PostHog's schema now has this right, remove the \
             action"
                .to_owned(),
        );
    }
    match &action.change {
        Change::Update(update) => {
            for pointer in &pointers {
                let Some(node) = doc.pointer_mut(pointer) else {
                    continue;
                };
                if !(node.is_object() || node.is_array()) {
                    return Err(format!(
                        "matches #{pointer}, which is not an object or array, so it cannot be updated"
                    ));
                }
                merge(node, update);
            }
        }
        Change::Remove => remove_all(doc, &pointers)?,
    }
    Ok(pointers.len())
}

/// Overlay 1.0 update semantics: members of an object update replace or extend the target's
/// (recursively for objects); an array target gets the update appended (an array update is
/// appended item by item).
fn merge(target: &mut Value, update: &Value) {
    match (target, update) {
        (Value::Object(target), Value::Object(update)) => {
            for (key, value) in update {
                match target.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value)
                    }
                    Some(existing) if existing.is_array() && value.is_array() => {
                        merge(existing, value)
                    }
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(target), Value::Array(items)) => target.extend(items.iter().cloned()),
        (Value::Array(target), item) => target.push(item.clone()),
        (target, value) => *target = value.clone(),
    }
}

/// Removes every node at `pointers`; array items from the highest index down, so earlier
/// removals do not shift later ones.
fn remove_all(doc: &mut Value, pointers: &[String]) -> Result<(), String> {
    let mut places: Vec<(String, String)> = Vec::with_capacity(pointers.len());
    for pointer in pointers {
        match pointer.rsplit_once('/') {
            Some((parent, last)) => places.push((parent.to_owned(), last.to_owned())),
            None => return Err("matches the document root, which cannot be removed".to_owned()),
        }
    }
    places.sort_by(|(pa, ka), (pb, kb)| {
        pa.cmp(pb)
            .then_with(|| match (ka.parse::<usize>(), kb.parse::<usize>()) {
                (Ok(a), Ok(b)) => b.cmp(&a),
                _ => ka.cmp(kb),
            })
    });
    for (parent, key) in places {
        // A node inside one removed earlier is already gone.
        match doc.pointer_mut(&parent) {
            Some(Value::Object(members)) => {
                let key = key.replace("~1", "/").replace("~0", "~");
                members.shift_remove(&key);
            }
            Some(Value::Array(items)) => {
                if let Ok(index) = key.parse::<usize>()
                    && index < items.len()
                {
                    items.remove(index);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn update_merges_objects_and_appends_to_arrays() {
        let mut target = json!({"a": 1, "o": {"x": 1, "y": [1]}, "l": [1]});
        merge(&mut target, &json!({"b": 2, "o": {"x": 2, "y": [2]}}));
        assert_eq!(
            target,
            json!({"a": 1, "o": {"x": 2, "y": [1, 2]}, "l": [1], "b": 2})
        );
        let mut list = json!([1]);
        merge(&mut list, &json!({"k": 1}));
        assert_eq!(list, json!([1, {"k": 1}]));
    }

    #[test]
    fn remove_takes_array_items_from_the_end() -> Result<(), String> {
        let mut doc = json!({"l": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], "a/b": 1});
        let pointers = ["/l/2", "/l/10", "/l/9", "/a~1b"].map(String::from);
        remove_all(&mut doc, &pointers)?;
        assert_eq!(doc, json!({"l": [0, 1, 3, 4, 5, 6, 7, 8, 11]}));
        Ok(())
    }
}
