//! What a run may accept beyond the default: opt-ins for schemas the generator cannot lower whole.

/// How `$ref`s to other documents (a URL, another file) are treated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExternalRefs {
    /// A diagnostic at each one: the generator reads one document and works offline.
    #[default]
    Refuse,
    /// Each one is free-form JSON (`serde_json::Value`), with a warning in the report.
    Json,
}

/// Options of one generator run (`cargo xtask regenerate`'s flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// `--external-refs`.
    pub external_refs: ExternalRefs,
    /// `--skip-unsupported`: an operation that cannot be lowered is left out (and listed in the
    /// report and the generated docs) instead of failing the run.
    pub skip_unsupported: bool,
}

/// The comment a fixture schema names its flags in, e.g. `# regenerate flags: --skip-unsupported`.
const FIXTURE_FLAGS: &str = "# regenerate flags:";

impl Options {
    /// Options from `regenerate`'s flags as written on its command line.
    pub fn from_flags<'f>(flags: impl IntoIterator<Item = &'f str>) -> Result<Self, String> {
        let mut options = Self::default();
        for flag in flags {
            match flag {
                "--skip-unsupported" => options.skip_unsupported = true,
                "--external-refs=json" => options.external_refs = ExternalRefs::Json,
                "--external-refs=refuse" => options.external_refs = ExternalRefs::Refuse,
                other => {
                    return Err(format!(
                        "unknown flag `{other}`; expected --skip-unsupported or --external-refs=json|refuse"
                    ));
                }
            }
        }
        Ok(options)
    }

    /// The options a fixture schema asks for in a `# regenerate flags: ...` line (the tests and
    /// `cargo xtask check-outputs` generate it with them); none without such a line.
    pub fn from_fixture(bytes: &[u8]) -> Result<Self, String> {
        let text = String::from_utf8_lossy(bytes);
        let flags: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix(FIXTURE_FLAGS))
            .flat_map(str::split_whitespace)
            .collect();
        Self::from_flags(flags)
    }
}
