// Placeholder until the first regeneration replaces this directory.
pub mod api {}
pub mod operations {
    /// Default limits per throttle scope (emitted from schema/throttle-scopes.toml).
    pub static THROTTLE_LIMITS: &[crate::rate_limit::ScopeLimit] = &[];
}
pub mod types {}
