//! Reading an OpenAPI schema from bytes in either JSON or YAML, checking that it is one, and
//! writing it back in the one canonical on-disk form (pretty JSON, `\n`, source key order).

use anyhow::{Context as _, bail};
use serde_json::Value;

use posthog_codegen::diagnostic::escape_segment as pointer_escape;
use posthog_codegen::load::METHODS;

/// A schema read from bytes: its JSON value and how many operations it declares.
#[derive(Debug, Clone)]
pub struct SchemaFile {
    pub value: Value,
    pub operations: usize,
}

impl SchemaFile {
    /// Parses `bytes` (JSON or YAML) and checks that they hold an OpenAPI 3 document.
    ///
    /// `origin` names where the bytes came from, for error messages.
    pub fn parse(bytes: &[u8], origin: &str) -> anyhow::Result<SchemaFile> {
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let text = std::str::from_utf8(bytes)
            .with_context(|| format!("{origin} is not UTF-8 text, so not a schema"))?;
        let trimmed = text.trim_start();
        if trimmed.is_empty() {
            bail!("{origin} is empty: expected an OpenAPI schema");
        }
        if looks_like_html(trimmed) {
            bail!(
                "{origin} is an HTML page{}, not an OpenAPI schema. A PostHog instance answers \
                 this way when it wants a login: pass --personal-api-key-env NAME with a \
                 personal API key in $NAME, or check the URL",
                html_title(trimmed)
                    .map(|title| format!(" ({title:?})"))
                    .unwrap_or_default()
            );
        }
        let value = if trimmed.starts_with('{') || trimmed.starts_with('[') {
            serde_json::from_str::<Value>(text).map_err(|error| {
                let hint = if error.is_eof() {
                    ": the document ends early, so the download was probably truncated"
                } else {
                    ""
                };
                anyhow::anyhow!(
                    "{origin} is not valid JSON (line {}, column {}){hint}: {error}",
                    error.line(),
                    error.column()
                )
            })?
        } else {
            let mut yaml: serde_yaml::Value = serde_yaml::from_str(text).map_err(|error| {
                let at = error
                    .location()
                    .map(|at| format!(" (line {}, column {})", at.line(), at.column()))
                    .unwrap_or_default();
                anyhow::anyhow!("{origin} is neither JSON nor valid YAML{at}: {error}")
            })?;
            yaml.apply_merge()
                .with_context(|| format!("{origin}: applying YAML merge keys"))?;
            yaml_to_json(yaml, &mut String::new())
                .with_context(|| format!("{origin}: converting YAML to JSON"))?
        };
        let operations = check_openapi(&value).with_context(|| origin.to_owned())?;
        Ok(SchemaFile { value, operations })
    }

    /// The canonical on-disk form: pretty JSON in the source's key order, ending in `\n`.
    pub fn canonical_bytes(&self) -> anyhow::Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(&self.value).context("serializing the schema")?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// Checks the top level of an OpenAPI 3 document and counts its operations.
fn check_openapi(value: &Value) -> anyhow::Result<usize> {
    let Some(top) = value.as_object() else {
        bail!("not an OpenAPI schema: the document is not an object");
    };
    match top.get("openapi") {
        Some(Value::String(version)) if version.starts_with("3.") => {}
        Some(other) => bail!("#/openapi is {other}: only OpenAPI 3.x documents are supported"),
        None if top.contains_key("swagger") => {
            bail!("#/swagger: this is a Swagger 2.0 document; only OpenAPI 3.x is supported")
        }
        None => {
            let keys: Vec<&str> = top.keys().map(String::as_str).take(8).collect();
            bail!(
                "not an OpenAPI schema: no `openapi` version at the top level (found keys {keys:?})"
            )
        }
    }
    let Some(paths) = top.get("paths").and_then(Value::as_object) else {
        bail!("#/paths: expected an object of paths");
    };
    let mut operations = 0;
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            bail!(
                "#/paths/{}: expected a path item object",
                pointer_escape(path)
            );
        };
        operations += METHODS.iter().filter(|m| item.contains_key(**m)).count();
    }
    Ok(operations)
}

fn looks_like_html(text: &str) -> bool {
    let head: String = text
        .chars()
        .take(64)
        .collect::<String>()
        .to_ascii_lowercase();
    head.starts_with("<!doctype")
        || head.starts_with("<html")
        || head.starts_with("<head")
        || head.starts_with("<body")
        || head.starts_with("<!--")
}

fn html_title(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    let title = text
        .get(open_end..close)?
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!title.is_empty()).then(|| title.chars().take(80).collect())
}

/// Converts YAML to JSON, turning scalar keys into strings (YAML allows `200:` as a key) and
/// reporting the JSON pointer of anything JSON cannot hold.
fn yaml_to_json(value: serde_yaml::Value, at: &mut String) -> anyhow::Result<Value> {
    use serde_yaml::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                match serde_json::Number::from_f64(f) {
                    Some(n) => Value::Number(n),
                    None => bail!("#{at}: the number {n} has no JSON form"),
                }
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let len = at.len();
                at.push_str(&format!("/{index}"));
                out.push(yaml_to_json(item, at)?);
                at.truncate(len);
            }
            Value::Array(out)
        }
        Y::Mapping(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            for (key, item) in map {
                let key = match key {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Null => "null".to_owned(),
                    other => bail!("#{at}: a mapping key must be a scalar, found {other:?}"),
                };
                let len = at.len();
                at.push('/');
                at.push_str(&pointer_escape(&key));
                let item = yaml_to_json(item, at)?;
                at.truncate(len);
                out.insert(key, item);
            }
            Value::Object(out)
        }
        // Tags such as `!!binary` carry no meaning for a schema; keep the tagged value.
        Y::Tagged(tagged) => yaml_to_json(tagged.value, at)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_give_the_same_canonical_form() -> anyhow::Result<()> {
        let yaml = b"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a/:\n    get:\n      responses:\n        200: {description: ok}\n";
        let json = br#"{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/a/":{"get":{"responses":{"200":{"description":"ok"}}}}}}"#;
        let from_yaml = SchemaFile::parse(yaml, "yaml")?;
        let from_json = SchemaFile::parse(json, "json")?;
        assert_eq!(from_yaml.operations, 1);
        assert_eq!(from_yaml.canonical_bytes()?, from_json.canonical_bytes()?);
        Ok(())
    }

    /// The changelog reads a 3.1 schema as the generator does (one front end), so a 3.1 pin
    /// that changed does not stop `regenerate` after it wrote `generated/`.
    #[test]
    fn openapi_31_reads_as_the_generator_reads_it() -> anyhow::Result<()> {
        let yaml = b"openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a/:\n    get:\n      operationId: a_retrieve\n      responses:\n        200:\n          description: ok\n          content:\n            application/json:\n              schema: {type: [string, 'null']}\n";
        let schema = crate::changelog::Schema::new("yaml", yaml.to_vec());
        let api = crate::changelog::lower(&schema, &[], &Default::default())
            .map_err(|d| anyhow::anyhow!("{d}"))?;
        assert_eq!(api.operations.len(), 1);
        Ok(())
    }

    #[test]
    fn html_and_swagger_are_refused() {
        let html = SchemaFile::parse(b"<!DOCTYPE html><html><head><title>Log in</title>", "x");
        let message = format!(
            "{:#}",
            html.err().map(|e| e.to_string()).unwrap_or_default()
        );
        assert!(message.contains("HTML page (\"Log in\")"), "{message}");
        let swagger = SchemaFile::parse(br#"{"swagger": "2.0", "paths": {}}"#, "x");
        assert!(swagger.is_err());
        let truncated = SchemaFile::parse(br#"{"openapi": "3.0.3", "paths": {"#, "x");
        let message = truncated.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("truncated"), "{message}");
    }
}
