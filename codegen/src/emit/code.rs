//! Generated Rust as text: lines at an indent, and the spelling every emitter shares
//! (identifiers, literals, doc comments, type references).
//!
//! Every piece of schema text reaches a file through [`lit`] (a Rust string literal, escaped
//! as `{:?}` escapes it) or a doc comment ([`Code::docs`]): nothing from the schema is written
//! raw, so no schema string can end the literal or comment it is in. Identifiers come from
//! [`crate::naming`], which makes them valid. Tests parse every generated file with syn.

use std::fmt::{Display, Write as _};

use crate::ir::{Operation, TypeRef};
use crate::naming::{is_keyword, type_name};

/// The widest line a signature or a call is joined onto (rustfmt's default width).
const WIDTH: usize = 100;

/// One level of indentation.
const INDENT: &str = "    ";

/// A file being written: whole lines at the current depth.
#[derive(Debug, Default)]
pub struct Code {
    text: String,
    depth: usize,
}

impl Code {
    pub fn new() -> Self {
        Self::default()
    }

    /// One line at the current depth; an empty line has no indent.
    pub fn line(&mut self, line: impl Display) {
        let start = self.text.len();
        for _ in 0..self.depth {
            self.text.push_str(INDENT);
        }
        let indented = self.text.len();
        // Writing to a String cannot fail.
        let _ = write!(self.text, "{line}");
        if self.text.len() == indented {
            self.text.truncate(start);
        }
        self.text.push('\n');
    }

    /// A line that opens a block (ends in `{`, `(` or `[`): what follows is one level deeper.
    pub fn open(&mut self, line: impl Display) {
        self.line(line);
        self.depth += 1;
    }

    /// A line that closes the block [`Code::open`] opened.
    pub fn close(&mut self, line: impl Display) {
        self.depth = self.depth.saturating_sub(1);
        self.line(line);
    }

    /// What follows is one level deeper (a method chain's continuation lines).
    pub fn indent(&mut self) {
        self.depth += 1;
    }

    /// Back out of [`Code::indent`].
    pub fn dedent(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// [`Code::list`] that opens a block: a signature `fn f(..) -> T {` and its body.
    pub fn open_list(&mut self, head: &str, items: &[String], tail: &str) {
        self.list(head, items, tail);
        self.depth += 1;
    }

    /// Outer doc comments (`///`) for schema text, made safe for rustdoc by [`doc_lines`].
    pub fn docs(&mut self, text: Option<&str>) {
        if let Some(text) = text {
            for line in doc_lines(text) {
                self.doc(&line);
            }
        }
    }

    /// One outer doc line (`/// line`).
    pub fn doc(&mut self, line: &str) {
        self.doc_comment("///", "#", line);
    }

    /// One inner doc line (`//! line`), for a module's own documentation.
    pub fn inner_doc(&mut self, line: &str) {
        self.doc_comment("//!", "#!", line);
    }

    fn doc_comment(&mut self, comment: &str, attribute: &str, line: &str) {
        let line = line.trim_end();
        if line.chars().all(plain_in_comment) {
            if line.is_empty() {
                self.line(comment);
            } else {
                self.line(format_args!("{comment} {line}"));
            }
        } else {
            // A character a comment cannot hold as it is (a lone carriage return, a control
            // or a text-direction character) goes through an escaped literal instead.
            self.line(format_args!(
                "{attribute}[doc = {}]",
                lit(&format!(" {line}"))
            ));
        }
    }

    /// `head(` arguments `)tail`: on one line when it fits in [`WIDTH`], else one argument per
    /// line with a trailing comma.
    pub fn list(&mut self, head: &str, items: &[String], tail: &str) {
        self.delimited(head, ('(', ')'), items, tail);
    }

    /// As [`Code::list`], with square brackets.
    pub fn array(&mut self, head: &str, items: &[String], tail: &str) {
        self.delimited(head, ('[', ']'), items, tail);
    }

    /// Whether `line` fits in [`WIDTH`] columns at the current depth.
    pub fn fits(&self, line: &str) -> bool {
        INDENT.len() * self.depth + line.len() <= WIDTH
    }

    fn delimited(&mut self, head: &str, (open, close): (char, char), items: &[String], tail: &str) {
        let one_line = format!("{head}{open}{}{close}{tail}", items.join(", "));
        if self.fits(&one_line) {
            self.line(one_line);
        } else {
            self.open(format_args!("{head}{open}"));
            for item in items {
                self.line(format_args!("{item},"));
            }
            self.close(format_args!("{close}{tail}"));
        }
    }

    pub fn into_string(self) -> String {
        self.text
    }
}

/// Whether a character can stand as itself in a `//` comment: anything `{:?}` would not
/// escape, plus tab and the quote and backslash it escapes only inside literals.
fn plain_in_comment(c: char) -> bool {
    matches!(c, '\t' | '"' | '\'' | '\\') || c.escape_debug().nth(1).is_none()
}

/// A Rust string literal holding `text` exactly.
pub fn lit(text: &str) -> String {
    format!("{text:?}")
}

/// An identifier, raw (`r#type`) when it is a keyword.
pub fn ident(name: &str) -> String {
    if is_keyword(name) {
        format!("r#{name}")
    } else {
        name.to_owned()
    }
}

/// The name of an operation's static in the operation table: its method name (already unique
/// and a valid identifier, unlike some operationIds) in upper case.
pub fn op_const(op: &Operation) -> String {
    op.method_name.to_uppercase()
}

/// The name of an operation's query parameter struct, from its (unique) method name.
pub fn query_type_name(op: &Operation) -> String {
    format!("{}Query", type_name(&op.method_name))
}

/// The Rust type for a type reference, with named types behind `prefix` (e.g. `types::`).
pub fn type_text(ty: &TypeRef, prefix: &str) -> String {
    let mut out = String::new();
    write_type(&mut out, ty, prefix);
    out
}

fn write_type(out: &mut String, ty: &TypeRef, prefix: &str) {
    let wrapped = |out: &mut String, open: &str, inner: &TypeRef| {
        out.push_str(open);
        write_type(out, inner, prefix);
        out.push('>');
    };
    match ty {
        TypeRef::Bool => out.push_str("bool"),
        TypeRef::I32 => out.push_str("i32"),
        TypeRef::I64 => out.push_str("i64"),
        TypeRef::U32 => out.push_str("u32"),
        TypeRef::U64 => out.push_str("u64"),
        TypeRef::F64 => out.push_str("f64"),
        TypeRef::String => out.push_str("String"),
        TypeRef::DateTime => out.push_str("chrono::DateTime<chrono::FixedOffset>"),
        TypeRef::Date => out.push_str("chrono::NaiveDate"),
        TypeRef::Uuid => out.push_str("uuid::Uuid"),
        TypeRef::Json => out.push_str("serde_json::Value"),
        TypeRef::File => out.push_str("crate::multipart::FilePart"),
        TypeRef::Named(name) => {
            out.push_str(prefix);
            out.push_str(&ident(name));
        }
        TypeRef::Vec(inner) => wrapped(out, "Vec<", inner),
        TypeRef::Map(inner) => wrapped(out, "std::collections::BTreeMap<String, ", inner),
        TypeRef::Option(inner) => wrapped(out, "Option<", inner),
        TypeRef::Nullable(inner) => wrapped(out, "crate::Nullable<", inner),
        TypeRef::Boxed(inner) => wrapped(out, "Box<", inner),
    }
}

/// Doc lines for schema text, made safe for rustdoc: schema prose is not Rust, so code fences
/// become `text` blocks and indentation (which Markdown reads as code) is dropped.
pub fn doc_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        let trimmed = line.trim();
        let line = if trimmed.starts_with("```") {
            // Whatever language a fence names, rustdoc must not compile it as a doctest.
            in_fence = !in_fence;
            if in_fence {
                "```text".to_owned()
            } else {
                "```".to_owned()
            }
        } else if in_fence {
            line.to_owned()
        } else {
            trimmed.to_owned()
        };
        lines.push(line);
    }
    if in_fence {
        lines.push("```".to_owned());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_text_stays_inside_its_literal_and_its_comment() {
        let hostile = "a\"); panic!(\"x\r\n*/ \u{202e}evil";
        let mut code = Code::new();
        for line in doc_lines(hostile) {
            code.doc(&line);
        }
        code.line(format_args!("pub static S: &str = {};", lit(hostile)));
        let text = code.into_string();
        let file: syn::File = syn::parse_str(&text).expect("the text parses");
        assert_eq!(file.items.len(), 1, "{text}");
        assert!(!text.contains('\u{202e}'), "{text}");
        assert!(!text.contains('\r'), "{text}");
    }

    #[test]
    fn a_list_that_does_not_fit_takes_a_line_per_item() {
        let mut code = Code::new();
        code.list("f", &["a".to_owned(), "b".to_owned()], ";");
        code.list("g", &["x".repeat(60), "y".repeat(60)], ";");
        assert_eq!(
            code.into_string(),
            format!(
                "f(a, b);\ng(\n    {},\n    {},\n);\n",
                "x".repeat(60),
                "y".repeat(60)
            )
        );
    }
}
