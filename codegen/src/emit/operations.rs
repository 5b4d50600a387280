//! Emits the operation table: a static [`Operation`] per operation, and the throttle limits.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::emit::tokens::op_const;
use crate::ir::{Api, Host};

/// The `operations` module.
pub fn emit_operations(api: &Api) -> TokenStream {
    let statics = api.operations.iter().map(|op| {
        let name = op_const(op);
        let id = &op.id;
        let method = Ident::new(&op.method, Span::call_site());
        let path = &op.path;
        let tag = &op.tag;
        let scopes = &op.scopes;
        let throttle = &op.throttle_scopes;
        match op.host {
            Host::Private => quote! {
                pub static #name: Operation =
                    Operation::private(#id, Method::#method, #path, #tag, &[#(#scopes),*], &[#(#throttle),*]);
            },
            Host::Public => quote! {
                pub static #name: Operation = Operation::public(#id, Method::#method, #path, #tag);
            },
        }
    });
    let all = api.operations.iter().map(op_const);
    let limits = api.throttle_limits.iter().map(|limit| {
        let scope = &limit.scope;
        let requests = limit.requests;
        let seconds = limit.period_seconds;
        quote!(ScopeLimit { scope: #scope, requests: #requests, period: Duration::from_secs(#seconds) },)
    });
    // Without a throttle table there are no limits, and an unused import fails deny(warnings).
    let duration = (!api.throttle_limits.is_empty()).then(|| {
        quote!(
            use std::time::Duration;
        )
    });
    quote! {
        //! Facts about every operation: method, path, tag, required scopes and throttle scopes.
        #duration

        use http::Method;

        use crate::operation::Operation;
        use crate::rate_limit::ScopeLimit;

        #(#statics)*

        /// Every operation, in tag then method-name order.
        pub static ALL: &[&Operation] = &[#(&#all),*];

        /// Default budget of each throttle scope (from `schema/throttle-scopes.toml`).
        pub static THROTTLE_LIMITS: &[ScopeLimit] = &[#(#limits)*];
    }
}
