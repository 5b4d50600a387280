//! Lowering: a normalized OpenAPI document to the IR, folding drf-spectacular's quirks on the way.

mod operations;
pub mod recursion;
mod request_types;
mod schema;
mod shapes;

pub use operations::HOST_EXTENSION;

use openapiv3::OpenAPI;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::ir::{Api, ThrottleLimit};
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
    let mut types_map = std::mem::take(&mut types.types);
    drop(types);
    request_types::shape_request_types(&operations, &mut types_map, &mut report);
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
        throttle_limits = table
            .limits()
            .iter()
            .map(|limit| ThrottleLimit {
                scope: limit.scope.clone(),
                requests: limit.requests,
                period_seconds: limit.period_seconds,
            })
            .collect();
    }
    if !diagnostics.is_empty() {
        diagnostics.sort();
        diagnostics.dedup();
        return Err(Diagnostics(diagnostics));
    }
    Ok((
        Api {
            operations,
            types: types_map,
            throttle_limits,
        },
        report,
    ))
}
