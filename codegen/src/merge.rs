//! Combining documents: our description of PostHog's public endpoints joins the main schema.

use openapiv3::{OpenAPI, ReferenceOr};

use crate::diagnostic::{Diagnostic, Diagnostics, escape_segment};
use crate::lower::HOST_EXTENSION;

/// Adds the paths and component schemas of `public` to `main`, marking every public
/// operation for the public host. A path or component defined in both is an error: the two
/// documents must not disagree about anything.
pub fn merge_public(main: &mut OpenAPI, public: OpenAPI) -> Result<(), Diagnostics> {
    let mut diagnostics = Vec::new();
    for (path, item) in public.paths.paths {
        if main.paths.paths.contains_key(&path) {
            diagnostics.push(Diagnostic::new(
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
                diagnostics.push(Diagnostic::new(
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
