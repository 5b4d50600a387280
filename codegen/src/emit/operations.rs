//! Emits the operation table: a static [`Operation`] per operation, and the throttle limits.

use crate::emit::code::{Code, lit, op_const};
use crate::ir::{Api, Host};

/// The `operations` module.
pub fn emit_operations(api: &Api) -> String {
    let mut code = Code::new();
    code.inner_doc(
        "Facts about every operation: method, path, tag, required scopes and throttle scopes.",
    );
    // Without a throttle table there are no limits, and an unused import fails deny(warnings).
    if !api.throttle_limits.is_empty() {
        code.line("use std::time::Duration;");
    }
    code.line("use http::Method;");
    code.line("use crate::operation::Operation;");
    code.line("use crate::rate_limit::ScopeLimit;");
    let strings = |values: &[String]| {
        let values: Vec<String> = values.iter().map(|value| lit(value)).collect();
        format!("&[{}]", values.join(", "))
    };
    for op in &api.operations {
        let mut arguments = vec![
            lit(&op.id),
            format!("Method::{}", op.method),
            lit(&op.path),
            lit(&op.tag),
        ];
        let constructor = match op.host {
            Host::Private => {
                arguments.push(strings(&op.scopes));
                arguments.push(strings(&op.throttle_scopes));
                "private"
            }
            Host::Public => "public",
        };
        code.list(
            &format!(
                "pub static {}: Operation = Operation::{constructor}",
                op_const(op)
            ),
            &arguments,
            ";",
        );
    }
    code.doc("Every operation, in tag then method-name order.");
    let all: Vec<String> = api
        .operations
        .iter()
        .map(|op| format!("&{}", op_const(op)))
        .collect();
    code.array("pub static ALL: &[&Operation] = &", &all, ";");
    code.doc("Default budget of each throttle scope (from `schema/throttle-scopes.toml`).");
    if api.throttle_limits.is_empty() {
        code.line("pub static THROTTLE_LIMITS: &[ScopeLimit] = &[];");
    } else {
        code.open("pub static THROTTLE_LIMITS: &[ScopeLimit] = &[");
        for limit in &api.throttle_limits {
            code.open("ScopeLimit {");
            code.line(format_args!("scope: {},", lit(&limit.scope)));
            code.line(format_args!("requests: {},", limit.requests));
            code.line(format_args!(
                "period: Duration::from_secs({}),",
                limit.period_seconds
            ));
            code.close("},");
        }
        code.close("];");
    }
    code.into_string()
}
