//! `cargo xtask fetch-schema`: download (or read) PostHog's OpenAPI schema, store its canonical
//! JSON form, update the pin, and show what changed since the previous pin.
//!
//! Where the schema goes: its canonical JSON is always cached as
//! `target/schema-cache/<sha256>.json` (ignored by git, so no copy of a shared or downloaded
//! schema is ever committed), and also written to `--out PATH` when given. The pin
//! (`schema/posthog.pin.json`) records the source, the sha256 of the bytes as read and the
//! operation count; it is the only file under version control that this command writes.

use std::io::Read as _;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::changelog::Schema;
use crate::pin::{self, Pin};
use crate::schema_file::SchemaFile;

/// The largest schema accepted; PostHog's is about 3 MB, so this only stops a runaway body.
const MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Arguments of `cargo xtask fetch-schema`.
#[derive(Debug, Clone, clap::Args)]
pub struct FetchSchemaArgs {
    /// Where to get the schema: a PostHog instance (`https://us.posthog.com`, which means its
    /// `/api/schema/`), a full schema URL, a `file://` URL or a plain path. Defaults to the
    /// pin's source.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Name of the environment variable holding a personal API key, sent as a Bearer token
    /// (self-hosted instances may require one). The key itself is never printed.
    #[arg(long, value_name = "NAME")]
    pub personal_api_key_env: Option<String>,
    /// Also write the canonical JSON schema to this path.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Which form to ask the server for; both are stored as the same canonical JSON.
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
    /// Give up on the download after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
    /// Do not print the changelog against the previous pin.
    #[arg(long)]
    pub quiet: bool,
}

/// The representation asked of `/api/schema/`: drf-spectacular serves YAML unless
/// `?format=json` is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

impl FetchSchemaArgs {
    /// Arguments for fetching `source` with every other option at its default.
    pub fn new(source: impl Into<String>) -> FetchSchemaArgs {
        FetchSchemaArgs {
            url: Some(source.into()),
            personal_api_key_env: None,
            out: None,
            format: Format::Yaml,
            timeout: 60,
            quiet: true,
        }
    }
}

/// Where a schema comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Http(reqwest::Url),
    File(PathBuf),
}

impl Source {
    /// Parses a command-line source. Relative paths are taken from `base`.
    ///
    /// An `http(s)` URL with an empty path means the instance's `/api/schema/`; `format`
    /// adds `?format=json` unless the URL already says which format it wants.
    pub fn parse(text: &str, base: &Path, format: Format) -> anyhow::Result<Source> {
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let mut url = reqwest::Url::parse(text)
                .with_context(|| format!("{text:?} is not a valid URL"))?;
            if url.path().is_empty() || url.path() == "/" {
                url.set_path("/api/schema/");
            }
            let has_format = url.query_pairs().any(|(key, _)| key == "format");
            if format == Format::Json && !has_format {
                url.query_pairs_mut().append_pair("format", "json");
            }
            Ok(Source::Http(url))
        } else if lower.starts_with("file:") {
            let url = reqwest::Url::parse(text)
                .with_context(|| format!("{text:?} is not a valid file URL"))?;
            let path = url
                .to_file_path()
                .map_err(|()| anyhow::anyhow!("{text:?} does not name a local file"))?;
            Ok(Source::File(path))
        } else if lower.contains("://") {
            bail!("{text:?}: only http, https and file URLs (or plain paths) are supported")
        } else {
            Ok(Source::File(base.join(text)))
        }
    }

    /// How the pin records this source: the URL, or the path relative to the workspace root
    /// (so `../shared/schemas/...` reads the same on every machine).
    pub fn pin_source(&self, workspace_root: &Path) -> String {
        match self {
            Source::Http(url) => url.to_string(),
            Source::File(path) => relative_path(workspace_root, path),
        }
    }
}

/// What a fetch did.
#[derive(Debug, Clone)]
pub struct FetchOutcome {
    /// The pin now on disk.
    pub pin: Pin,
    /// The pin before this fetch, if there was a readable one.
    pub previous: Option<Pin>,
    /// Whether the pin file was rewritten.
    pub pin_written: bool,
    /// The cached canonical copy.
    pub cache_path: PathBuf,
    /// The canonical JSON bytes stored.
    pub canonical: Vec<u8>,
}

impl FetchOutcome {
    /// Whether the schema differs from the previous pin's.
    pub fn schema_changed(&self) -> bool {
        self.previous
            .as_ref()
            .is_none_or(|previous| previous.sha256 != self.pin.sha256)
    }
}

/// The command: fetch into the real workspace and report.
pub fn run(args: FetchSchemaArgs) -> anyhow::Result<()> {
    let root = crate::workspace_root();
    let quiet = args.quiet;
    let outcome = fetch_and_pin(&root, &args)?;
    let pin = &outcome.pin;
    eprintln!(
        "schema: {} operations, sha256 {} from {}",
        pin.operations, pin.sha256, pin.source
    );
    eprintln!("stored: {}", outcome.cache_path.display());
    if let Some(out) = &args.out {
        eprintln!("stored: {}", out.display());
    }
    eprintln!(
        "pin: {} {}",
        pin::PIN_PATH,
        if outcome.pin_written {
            "updated"
        } else {
            "unchanged"
        }
    );
    match &outcome.previous {
        None => eprintln!("no previous pin: nothing to compare with"),
        Some(previous) if !outcome.schema_changed() => {
            eprintln!("the schema is the one already pinned ({})", previous.sha256)
        }
        Some(previous) if quiet => {
            eprintln!("the schema changed since {}", previous.sha256)
        }
        Some(previous) => match previous.schema_bytes(&root) {
            None => eprintln!(
                "the schema changed, but this machine has no copy of the previous one \
                 (sha256 {} from {}); to review, run `cargo xtask changelog OLD NEW`",
                previous.sha256, previous.source
            ),
            Some(old) => {
                let overlays = crate::overlays::read_overlays(&root)?;
                let old = Schema::new("the previous schema", old);
                let new = Schema::new("the fetched schema", outcome.canonical.clone());
                print!(
                    "{}",
                    crate::changelog::review(&old, &new, &overlays, &Default::default())
                );
            }
        },
    }
    Ok(())
}

/// Fetches the schema named by `args` (or by the pin at `workspace_root`), stores its canonical
/// form, and updates the pin. Nothing is written unless the schema was read and checked.
pub fn fetch_and_pin(
    workspace_root: &Path,
    args: &FetchSchemaArgs,
) -> anyhow::Result<FetchOutcome> {
    let key = personal_api_key(args)?;
    fetch_and_pin_with_key(workspace_root, args, key.as_deref())
}

/// Reads the personal API key from the environment variable `--personal-api-key-env` names.
/// Errors name the variable, never its value.
pub fn personal_api_key(args: &FetchSchemaArgs) -> anyhow::Result<Option<String>> {
    let Some(name) = &args.personal_api_key_env else {
        return Ok(None);
    };
    match std::env::var(name) {
        Ok(key) if !key.trim().is_empty() => Ok(Some(key.trim().to_owned())),
        Ok(_) => bail!("the environment variable {name} (--personal-api-key-env) is empty"),
        Err(_) => bail!(
            "the environment variable {name} (--personal-api-key-env) is not set or not UTF-8"
        ),
    }
}

/// [`fetch_and_pin`] with the key given directly (tests cannot safely set environment
/// variables in a multi-threaded process).
pub fn fetch_and_pin_with_key(
    workspace_root: &Path,
    args: &FetchSchemaArgs,
    key: Option<&str>,
) -> anyhow::Result<FetchOutcome> {
    let pin_path = workspace_root.join(pin::PIN_PATH);
    let previous = if pin_path.exists() {
        match Pin::load(&pin_path) {
            Ok(previous) => Some(previous),
            Err(error) => {
                eprintln!("warning: ignoring the unreadable pin: {error:#}");
                None
            }
        }
    } else {
        None
    };
    let source = match (&args.url, &previous) {
        (Some(text), _) => {
            let cwd = std::env::current_dir().context("finding the current directory")?;
            Source::parse(text, &cwd, args.format)?
        }
        // A pin's relative path is relative to the workspace root, not to where we run.
        (None, Some(previous)) => Source::parse(&previous.source, workspace_root, args.format)?,
        (None, None) => bail!(
            "no schema source: pass --url (for example --url https://us.posthog.com or \
             --url ../shared/schemas/posthog-2025.json); there is no {} to take it from",
            pin::PIN_PATH
        ),
    };
    let (bytes, fetched_at) = match &source {
        Source::File(path) => {
            if key.is_some() {
                eprintln!("note: a personal API key is not used for a local file");
            }
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading the schema {}", path.display()))?;
            (bytes, None)
        }
        Source::Http(url) => {
            let bytes = download(url, key, Duration::from_secs(args.timeout))?;
            (
                bytes,
                Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            )
        }
    };
    let origin = match &source {
        Source::Http(url) => format!("the response from {url}"),
        Source::File(path) => path.display().to_string(),
    };
    let schema = SchemaFile::parse(&bytes, &origin)?;
    let canonical = schema.canonical_bytes()?;
    let sha256 = pin::sha256_hex(&bytes);
    let cache_path = pin::cache_schema(workspace_root, &sha256, &canonical)?;
    if let Some(out) = &args.out {
        pin::write_if_changed(out, &canonical)?;
    }
    let mut pin = Pin {
        source: source.pin_source(workspace_root),
        sha256,
        operations: schema.operations,
        overlays: crate::overlays::hashes(&crate::overlays::read_overlays(workspace_root)?),
        fetched_at,
    };
    // Re-reading an unchanged schema from the same URL keeps the old timestamp, so the pin
    // only changes when the schema does.
    if let Some(previous) = &previous
        && previous.sha256 == pin.sha256
        && previous.source == pin.source
        && pin.fetched_at.is_some()
    {
        pin.fetched_at.clone_from(&previous.fetched_at);
    }
    let pin_written = pin.save(&pin_path)?;
    Ok(FetchOutcome {
        pin,
        previous,
        pin_written,
        cache_path,
        canonical,
    })
}

/// Downloads `url` with a progress bar on stderr, checking the status and the body length.
pub fn download(
    url: &reqwest::Url,
    key: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<Vec<u8>> {
    use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};

    let client = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("posthog-api-xtask/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")?;
    // drf-spectacular negotiates on Accept; asking for the OpenAPI types first, then anything,
    // keeps a `?format=` query in charge and never earns a 406.
    let mut request = client.get(url.clone()).header(
        ACCEPT,
        "application/vnd.oai.openapi+json, application/vnd.oai.openapi, application/json, \
         application/yaml, */*;q=0.5",
    );
    if let Some(key) = key {
        let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
            anyhow::anyhow!("the personal API key holds characters a header cannot")
        })?;
        // Keeps the key out of reqwest's Debug output and out of HTTP/2 header compression.
        value.set_sensitive(true);
        request = request.header(AUTHORIZATION, value);
    }
    let response = request.send().map_err(|error| {
        if error.is_timeout() {
            anyhow::anyhow!(
                "GET {url}: no answer within {} s (--timeout)",
                timeout.as_secs()
            )
        } else {
            anyhow::Error::new(error).context(format!("GET {url}: the request failed"))
        }
    })?;
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if !status.is_success() {
        let mut body = Vec::new();
        // The body is only read for a snippet; a broken one should not hide the status.
        let _ = response.take(64 * 1024).read_to_end(&mut body);
        let hint = match status.as_u16() {
            401 | 403 if key.is_none() => {
                "\nhint: this instance wants a personal API key: pass --personal-api-key-env NAME \
                 with the key in $NAME"
            }
            401 | 403 => {
                "\nhint: the personal API key was refused (wrong key, or one without access)"
            }
            404 => "\nhint: is this a PostHog instance? the schema is served at /api/schema/",
            _ => "",
        };
        bail!("GET {url}: HTTP {status}: {}{hint}", snippet(&body));
    }
    let expected = response.content_length();
    let progress = match expected {
        Some(total) => indicatif::ProgressBar::new(total).with_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        ),
        None => indicatif::ProgressBar::new_spinner().with_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} {bytes} ({bytes_per_sec})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        ),
    };
    progress.set_message("downloading the schema");
    let mut body = Vec::new();
    let read = progress
        .wrap_read(response.take(MAX_BYTES + 1))
        .read_to_end(&mut body);
    progress.finish_and_clear();
    if let Err(error) = read {
        bail!(
            "GET {url}: the body broke off after {} bytes{}, so the download is truncated: {error}",
            body.len(),
            expected.map(|n| format!(" of {n}")).unwrap_or_default()
        );
    }
    if body.len() as u64 > MAX_BYTES {
        bail!("GET {url}: the body is larger than {MAX_BYTES} bytes; this is not a schema");
    }
    if let Some(expected) = expected
        && (body.len() as u64) < expected
    {
        bail!(
            "GET {url}: got {} of {expected} bytes, so the download is truncated",
            body.len()
        );
    }
    if content_type.starts_with("text/html") {
        // The parser says the same for a body that looks like HTML; this catches the rest.
        let title_hint = SchemaFile::parse(&body, "the page")
            .err()
            .map(|error| format!(": {error}"))
            .unwrap_or_default();
        bail!(
            "GET {url}: got an HTML page (Content-Type {content_type}), not a schema. A PostHog \
             instance answers this way when it wants a login: pass --personal-api-key-env \
             NAME{title_hint}"
        );
    }
    Ok(body)
}

/// The start of an error body, on one line, for a message.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return "(empty body)".to_owned();
    }
    let cut: String = line.chars().take(300).collect();
    if cut.len() < line.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// `path` relative to `root` with `/` separators, or absolute when they share nothing.
pub fn relative_path(root: &Path, path: &Path) -> String {
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let root_parts: Vec<Component> = root.components().collect();
    let path_parts: Vec<Component> = path.components().collect();
    let common = root_parts
        .iter()
        .zip(&path_parts)
        .take_while(|(a, b)| a == b)
        .count();
    // Sharing only the filesystem root means a `../../..` climb that says less than the path.
    if common <= 1 {
        return path.display().to_string();
    }
    let ups = std::iter::repeat_n("..".to_owned(), root_parts.len() - common);
    let downs = path_parts[common..]
        .iter()
        .map(|part| part.as_os_str().to_string_lossy().into_owned());
    ups.chain(downs).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_urls_point_at_the_schema() -> anyhow::Result<()> {
        let base = Path::new("/");
        let parsed = Source::parse("https://eu.posthog.com", base, Format::Json)?;
        assert_eq!(
            parsed,
            Source::Http(reqwest::Url::parse(
                "https://eu.posthog.com/api/schema/?format=json"
            )?)
        );
        let parsed = Source::parse("http://h/api/schema/?format=yaml", base, Format::Json)?;
        assert_eq!(
            parsed,
            Source::Http(reqwest::Url::parse("http://h/api/schema/?format=yaml")?)
        );
        assert_eq!(
            Source::parse("file:///tmp/s.yaml", base, Format::Yaml)?,
            Source::File(PathBuf::from("/tmp/s.yaml"))
        );
        assert!(Source::parse("ftp://h/s", base, Format::Yaml).is_err());
        Ok(())
    }

    #[test]
    fn relative_paths_climb_out_of_the_root() {
        assert_eq!(
            relative_path(
                Path::new("/nonexistent/work/main"),
                Path::new("/nonexistent/work/shared/s.json")
            ),
            "../shared/s.json"
        );
    }
}
