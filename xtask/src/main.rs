//! `cargo xtask`: parses the command line and hands each command to its library module.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "Workspace automation for posthog-api")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate generated/ from the schema (or check it is up to date with --check).
    Regenerate(xtask::regenerate::RegenerateArgs),
    /// Download (or read) PostHog's schema, store it canonically, update the pin.
    FetchSchema(xtask::fetch_schema::FetchSchemaArgs),
    /// Print the API changelog between two schemas.
    Changelog(xtask::changelog::ChangelogArgs),
    /// Measure regenerate time, line counts and `cargo check` cost beside progenitor's output.
    Bench(xtask::bench::BenchArgs),
    /// Compile every fixture's generated output (and the older real schemas') with deny(warnings).
    CheckOutputs(xtask::check_outputs::CheckOutputsArgs),
    /// Fuzz the generator: generated and mutated schemas, minimized failures.
    Fuzz(xtask::fuzz::FuzzArgs),
}

/// Prints an error as its chain of causes, without a backtrace, and exits with code 1.
fn main() -> std::process::ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Regenerate(args) => xtask::regenerate::run(args),
        Command::FetchSchema(args) => xtask::fetch_schema::run(args),
        Command::Changelog(args) => xtask::changelog::run(args),
        Command::Bench(args) => xtask::bench::run(args),
        Command::CheckOutputs(args) => xtask::check_outputs::run(args),
        Command::Fuzz(args) => xtask::fuzz::run(args),
    }
}
