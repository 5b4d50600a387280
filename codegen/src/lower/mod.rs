//! Lowering: a normalized OpenAPI document to the IR, folding drf-spectacular's quirks on the way.

mod operations;
pub mod recursion;
mod schema;
mod shapes;

pub use operations::HOST_EXTENSION;

use openapiv3::OpenAPI;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::ir::Api;
use crate::report::Report;
use crate::throttle::ThrottleTable;

/// Lowers a document to the IR. All problems are collected; any of them fails the phase.
pub fn lower(
    doc: &OpenAPI,
    throttle: Option<&ThrottleTable>,
) -> Result<(Api, Report), Diagnostics> {
    let mut report = Report::default();
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    let empty = indexmap::IndexMap::new();
    let components = doc.components.as_ref().map_or(&empty, |c| &c.schemas);
    let mut types = schema::TypeLowering::new(components, &mut report, &mut diagnostics);
    types.lower_components();
    let mut operations = operations::lower_operations(doc, &mut types);
    types.finish();
    let types_map = std::mem::take(&mut types.types);
    drop(types);
    let mut throttle_limits = Vec::new();
    if let Some(table) = throttle {
        for operation in &mut operations {
            operation.throttle_scopes = match operation.host {
                crate::ir::Host::Public => Vec::new(),
                crate::ir::Host::Private => {
                    table.scopes_for(&operation.method, &operation.path, &operation.id)
                }
            };
        }
        throttle_limits = table.limits().to_vec();
    }
    if !diagnostics.is_empty() {
        diagnostics.sort();
        diagnostics.dedup();
        return Err(Diagnostics(diagnostics));
    }
    Ok((
        Api {
            title: doc.info.title.clone(),
            version: doc.info.version.clone(),
            operations,
            types: types_map,
            throttle_limits,
        },
        report,
    ))
}
