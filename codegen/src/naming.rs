//! Rust names for schema names: case conversion, keyword escaping and collision handling.

use std::collections::BTreeSet;

use heck::{ToSnakeCase, ToUpperCamelCase};

/// Words that cannot be Rust identifiers even as raw identifiers, or that we avoid.
const UNRAWABLE: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Rust keywords, strict and reserved (2024 edition).
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "union", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Type names schema types never take (they get a `Schema` suffix): the prelude's types, traits
/// and variants, which the enum macros and the serde derives name unqualified inside the type
/// modules, and the names those modules import.
pub const RESERVED_TYPE_NAMES: &[&str] = &[
    // The 2024 prelude.
    "AsMut",
    "AsRef",
    "AsyncFn",
    "AsyncFnMut",
    "AsyncFnOnce",
    "Box",
    "Clone",
    "Copy",
    "Default",
    "DoubleEndedIterator",
    "Drop",
    "Eq",
    "Err",
    "ExactSizeIterator",
    "Extend",
    "Fn",
    "FnMut",
    "FnOnce",
    "From",
    "FromIterator",
    "Future",
    "Into",
    "IntoFuture",
    "IntoIterator",
    "Iterator",
    "None",
    "Ok",
    "Option",
    "Ord",
    "PartialEq",
    "PartialOrd",
    "Result",
    "Send",
    "Sized",
    "Some",
    "String",
    "Sync",
    "ToOwned",
    "ToString",
    "TryFrom",
    "TryInto",
    "Unpin",
    "Vec",
    // Derived or named by the generated code and the runtime's macros.
    "Debug",
    "Hash",
    "Client",
    "Error",
    "Value",
    "Map",
    "Serialize",
    "Deserialize",
    // The derive treats a field type whose last segment is `Nullable` as the three-state field.
    "Nullable",
];

/// Tag module names that get a `_tag` suffix. A tag module is also a cargo feature, a module
/// beside the crates generated code names, and a method of `server::Routes`, so it must not be
/// one of the crate's own features, one of those crates, a hand-written `Routes` method or a
/// trait method those calls could resolve to instead.
pub const RESERVED_MODULE_NAMES: &[&str] = &[
    // The crate's own cargo features (`default` is also the tag of untagged operations).
    "default",
    "full",
    "server",
    "fake",
    "unreferenced_types",
    "redis",
    "rustls",
    "rustls-ring",
    "native-tls",
    // Crates the generated code names by path.
    "alloc",
    "axum",
    "chrono",
    "core",
    "http",
    "serde",
    "serde_json",
    "std",
    "uuid",
    // `server::Routes` methods, hand-written and generated.
    "new",
    "empty",
    "mount",
    "merge",
    "rate_limit",
    "into_router",
    "serve",
    "header_read_timeout",
];

/// Method names operations never take (they get an `_op` suffix): the client's hand-written
/// methods, methods of traits it implements (an inherent method of the same name would win
/// method resolution in hand-written code), and names whose upper case is a static of the
/// operation table.
pub const RESERVED_METHOD_NAMES: &[&str] = &[
    // `impl Client` in client.rs, request.rs, request/options.rs, request/raw.rs, hogql.rs,
    // public.rs, public/flags.rs, public/capture_queue.rs and public/local_flags/.
    "new",
    "builder",
    "hosts",
    "default_project_id",
    "rate_limiter",
    "capture",
    "batch",
    "batch_with",
    "flags",
    "require_project_key",
    "__op",
    "__project_op",
    "__project_id",
    "__request",
    "__request_at",
    "request",
    "operation",
    "options",
    "with_options",
    "with_meta",
    "hogql",
    "capture_queue",
    "local_flags",
    // Trait methods.
    "clone",
    "clone_from",
    "fmt",
    "eq",
    "ne",
    "to_owned",
    "to_string",
    "into",
    "try_into",
    "borrow",
    "borrow_mut",
    "type_id",
    "default",
    "hash",
    // `operations::ALL` and `operations::THROTTLE_LIMITS`.
    "all",
    "throttle_limits",
];

/// Parameter names the server's route closures and trait methods bind beside path parameters.
pub const RESERVED_PARAMETER_NAMES: &[&str] = &["query", "body", "s", "cx"];

/// Whether `word` is a Rust keyword.
pub fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

/// Replaces characters that have no place in an identifier but carry meaning, so that e.g.
/// `Etc/GMT+1` and `Etc/GMT-1` do not collapse into one name.
fn spell_symbols(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '+' => out.push_str(" plus "),
            '<' => out.push_str(" lt "),
            '>' => out.push_str(" gt "),
            '=' => out.push_str(" eq "),
            '!' => out.push_str(" not "),
            '*' => out.push_str(" star "),
            '$' => out.push_str(" dollar "),
            '@' => out.push_str(" at "),
            '%' => out.push_str(" percent "),
            c if c.is_alphanumeric() => out.push(c),
            _ => out.push(' '),
        }
    }
    out
}

/// A type or variant name: `UpperCamelCase`, starting with a letter.
pub fn type_name(raw: &str) -> String {
    let camel = spell_symbols(raw).to_upper_camel_case();
    let camel: String = camel
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    match camel.chars().next() {
        None => "Empty".to_owned(),
        Some(first) if first.is_ascii_digit() => format!("V{camel}"),
        Some(_) if camel == "Self" => "SelfValue".to_owned(),
        Some(_) => camel,
    }
}

/// A field, parameter or method name: `snake_case`, keyword-safe (as a raw identifier where
/// possible, with a trailing `_` where Rust allows no raw form).
pub fn field_name(raw: &str) -> String {
    let snake = spell_symbols(raw).to_snake_case();
    let snake: String = snake
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let snake = match snake.chars().next() {
        None => "value".to_owned(),
        Some(first) if first.is_ascii_digit() => format!("n{snake}"),
        Some(_) => snake,
    };
    if UNRAWABLE.contains(&snake.as_str()) {
        format!("{snake}_")
    } else {
        snake
    }
}

/// Hands out unique names within one namespace, resolving collisions deterministically.
#[derive(Debug, Default, Clone)]
pub struct NameSet {
    taken: BTreeSet<String>,
}

impl NameSet {
    /// An empty namespace.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks a name as used without checking.
    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_owned());
    }

    /// Whether `name` is used.
    pub fn contains(&self, name: &str) -> bool {
        self.taken.contains(name)
    }

    /// Claims `wanted`, or `wanted` + `suffix`, or those followed by a number.
    pub fn claim(&mut self, wanted: &str, suffix: &str) -> String {
        let mut candidate = wanted.to_owned();
        if self.taken.contains(&candidate) {
            candidate = format!("{wanted}{suffix}");
        }
        let mut counter = 2;
        while self.taken.contains(&candidate) {
            candidate = format!("{wanted}{suffix}{counter}");
            counter += 1;
        }
        self.taken.insert(candidate.clone());
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_keep_symbols_apart() {
        assert_eq!(type_name("Etc/GMT+1"), "EtcGmtPlus1");
        assert_eq!(type_name("Etc/GMT-1"), "EtcGmt1");
        assert_eq!(type_name("123abc"), "V123abc");
        assert_eq!(type_name(""), "Empty");
        assert_eq!(type_name("Self"), "SelfValue");
    }

    #[test]
    fn field_names_are_valid_identifiers() {
        assert_eq!(field_name("$set"), "dollar_set");
        assert_eq!(field_name("type"), "type");
        assert_eq!(field_name("self"), "self_");
        assert_eq!(field_name("createdAt"), "created_at");
        assert_eq!(field_name("2fa"), "n2fa");
    }

    #[test]
    fn collisions_get_suffixes() {
        let mut names = NameSet::new();
        assert_eq!(names.claim("Foo", "Inline"), "Foo");
        assert_eq!(names.claim("Foo", "Inline"), "FooInline");
        assert_eq!(names.claim("Foo", "Inline"), "FooInline2");
    }
}
