//! Lowering: a normalized OpenAPI document to the IR, folding drf-spectacular's quirks on the way.

mod operations;
pub mod recursion;
mod request_types;
mod same_shape;
mod schema;
mod shapes;

pub use operations::HOST_EXTENSION;

use openapiv3::OpenAPI;

use crate::diagnostic::Ctxt;
use crate::ir::Api;
use crate::throttle::ThrottleTable;

/// Lowers a document to the IR, recording diagnostics and pass counts in `cx`. All problems
/// are collected; any of them fails the phase (`None`).
pub fn lower(
    doc: &OpenAPI,
    throttle: Option<&ThrottleTable>,
    options: &crate::Options,
    cx: &mut Ctxt,
) -> Option<Api> {
    let empty = indexmap::IndexMap::new();
    let components = doc.components.as_ref().map_or(&empty, |c| &c.schemas);
    let (diagnostics, report) = cx.parts();
    let mut types =
        schema::TypeLowering::new(components, report, diagnostics, options.external_refs);
    types.lower_components();
    let (mut operations, skipped) =
        operations::lower_operations(doc, &mut types, options.skip_unsupported);
    types.finish();
    let mut types_map = std::mem::take(&mut types.types);
    drop(types);
    request_types::shape_request_types(&operations, &mut types_map, cx.report());
    let merged_shapes = same_shape::alias_same_shapes(&mut types_map, cx.report());
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
    cx.report().skipped = skipped.clone();
    if cx.has_diagnostics() {
        return None;
    }
    Some(Api {
        title: doc.info.title.clone(),
        version: doc.info.version.clone(),
        operations,
        types: types_map,
        merged_shapes,
        throttle_limits,
        skipped,
    })
}
