// placeholder until the first regeneration
pub mod api {}
pub mod operations {}
pub mod types {}
