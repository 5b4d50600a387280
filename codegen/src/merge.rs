//! Combining documents: our description of PostHog's public endpoints joins the main schema.

use openapiv3::{OpenAPI, ReferenceOr};

use crate::diagnostic::{Diagnostic, Diagnostics, Kind, Source, escape_segment};
use crate::lower::HOST_EXTENSION;

/// Where our description of the public endpoints lives, relative to the workspace root.
pub const PUBLIC_DOCUMENT: &str = "schema/public-api.yaml";

/// The places of the merged document that came from the public document, so that a later
/// phase's diagnostic there names that document rather than PostHog's schema.
#[derive(Debug, Clone, Default)]
pub struct PublicPlaces {
    /// JSON pointers of the public document's paths and component schemas.
    prefixes: Vec<String>,
}

impl PublicPlaces {
    /// The paths and component schemas `public` brings.
    pub fn of(public: &OpenAPI) -> Self {
        let paths = public
            .paths
            .paths
            .keys()
            .map(|path| format!("#/paths/{}", escape_segment(path)));
        let schemas = public
            .components
            .iter()
            .flat_map(|c| c.schemas.keys())
            .map(|name| format!("#/components/schemas/{}", escape_segment(name)));
        PublicPlaces {
            prefixes: paths.chain(schemas).collect(),
        }
    }

    /// Points `diagnostic` at the public document when its place came from there.
    pub fn attribute(&self, diagnostic: &mut Diagnostic) {
        if diagnostic.kind != Kind::Input || diagnostic.source != Source::Schema {
            return;
        }
        let pointer = diagnostic.pointer.as_str();
        let inside = |prefix: &String| {
            pointer
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        if self.prefixes.iter().any(inside) {
            diagnostic.source = Source::PublicDocument;
        }
    }
}

/// Adds the paths and component schemas of `public` to `main`, marking every public
/// operation for the public host. A path or component defined in both is an error: the two
/// documents must not disagree about anything.
pub fn merge_public(main: &mut OpenAPI, public: OpenAPI) -> Result<(), Diagnostics> {
    let mut diagnostics = Vec::new();
    for (path, item) in public.paths.paths {
        if main.paths.paths.contains_key(&path) {
            diagnostics.push(Diagnostic::in_source(
                Source::PublicDocument,
                format!("#/paths/{}", escape_segment(&path)),
                "the public endpoints document defines a path the main schema already has",
            ));
            continue;
        }
        let mut item = item;
        if let ReferenceOr::Item(item) = &mut item {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            for op in operations.into_iter().flatten() {
                op.extensions
                    .insert(HOST_EXTENSION.to_owned(), serde_json::Value::from("public"));
            }
        }
        main.paths.paths.insert(path, item);
    }
    if let Some(components) = public.components {
        let target = main.components.get_or_insert_with(Default::default);
        for (name, schema) in components.schemas {
            if target.schemas.contains_key(&name) {
                diagnostics.push(Diagnostic::in_source(
                    Source::PublicDocument,
                    format!("#/components/schemas/{}", escape_segment(&name)),
                    "the public endpoints document defines a component schema the main schema already has",
                ));
                continue;
            }
            target.schemas.insert(name, schema);
        }
    }
    if diagnostics.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(diagnostics))
    }
}
