//! Decoder fuzzing: random and adversarial JSON into the generated types of real operations
//! (feature flags, their page, persons, the query request) and PostHog's recursive query unions.
//! Whatever the bytes, decoding returns `Ok` or `Err`: no panic, and no stack overflow on a
//! thread with the default 2 MiB stack.
//!
//! `cargo test` runs a fixed-seed set of a few thousand cases. For more:
//! `POSTHOG_DECODE_FUZZ_CASES=200000 POSTHOG_DECODE_FUZZ_SEED=7 cargo test -p posthog-api-tests
//! --test integration --release -- decode_fuzz:: --nocapture` (each run prints its case count
//! and seed; `POSTHOG_DECODE_FUZZ_TRACE=1` prints each case before decoding it, to find one that
//! aborts).

use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use fastrand::Rng;
use posthog_api::types::{
    FeatureFlag, HogQlAutocompleteSourceQuery, HogQlMetadata, HogQlMetadataSourceQuery,
    PaginatedFeatureFlagList, PaginatedPersonList, PatchedFeatureFlag, Person, QueryRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The stack std gives a spawned thread, set explicitly so `RUST_MIN_STACK` cannot widen it.
const DEFAULT_THREAD_STACK: usize = 2 * 1024 * 1024;

/// Past serde_json's recursion limit (128), so the limit itself is exercised.
const DEEPEST: usize = 160;

/// Decodes `bytes` as `T` the ways the client does (plain and through serde_path_to_error), and
/// re-encodes and decodes what it accepted.
fn decode_as<T: DeserializeOwned + Serialize>(bytes: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(bytes) {
        let again = serde_json::to_vec(&value).expect("a decoded value encodes");
        // What was accepted once is accepted again (f64s and fallbacks included).
        serde_json::from_slice::<T>(&again).expect("an encoded value decodes");
    }
    let mut decoder = serde_json::Deserializer::from_slice(bytes);
    let _ = serde_path_to_error::deserialize::<_, T>(&mut decoder);
}

/// A decode target: a name for reports and the decoding.
type Target = (&'static str, fn(&[u8]));

const TARGETS: &[Target] = &[
    ("FeatureFlag", decode_as::<FeatureFlag>),
    ("PatchedFeatureFlag", decode_as::<PatchedFeatureFlag>),
    (
        "PaginatedFeatureFlagList",
        decode_as::<PaginatedFeatureFlagList>,
    ),
    ("Person", decode_as::<Person>),
    ("PaginatedPersonList", decode_as::<PaginatedPersonList>),
    ("QueryRequest", decode_as::<QueryRequest>),
    ("HogQlMetadata", decode_as::<HogQlMetadata>),
    (
        "HogQlMetadataSourceQuery",
        decode_as::<HogQlMetadataSourceQuery>,
    ),
    (
        "HogQlAutocompleteSourceQuery",
        decode_as::<HogQlAutocompleteSourceQuery>,
    ),
];

/// Keys the targets know (and a few they do not), so random objects reach real fields.
const KEYS: &[&str] = &[
    "kind",
    "sourceQuery",
    "source",
    "query",
    "language",
    "endPosition",
    "startPosition",
    "response",
    "filters",
    "properties",
    "groups",
    "key",
    "id",
    "name",
    "results",
    "next",
    "previous",
    "count",
    "created_at",
    "created_by",
    "uuid",
    "distinct_ids",
    "version",
    "deleted",
    "active",
    "rollout_percentage",
    "tags",
    "type",
    "value",
    "operator",
    "select",
    "series",
    "dateRange",
    "personal_api_key",
    "",
    "\u{0}",
    "k\u{e9}y",
];

/// Literal tags of the query unions and values of open enums, so dispatch paths are taken.
const WORDS: &[&str] = &[
    "HogQLMetadata",
    "HogQLAutocomplete",
    "HogQLQuery",
    "EventsQuery",
    "EventsNode",
    "ActorsQuery",
    "TrendsQuery",
    "DataTableNode",
    "hogQL",
    "hogQLExpr",
    "event",
    "person",
    "exact",
    "2025-03-01T10:00:00Z",
    "2025-13-45T99:99:99+25:00",
    "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    "not-a-uuid",
    "",
    "\\ud800",
];

/// Numbers at and past every bound a field type has.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "1e308",
    "1e309",
    "-1e400",
    "1.7976931348623157e308",
    "5e-324",
    "1e-400",
    "0.1",
    "123456789012345678901234567890123456789012345678901234567890",
    "1.5",
    "3.0",
];

/// Writes random JSON text (so keys can repeat and numbers can overflow, which a `Value` could
/// not hold).
struct Writer<'a> {
    rng: &'a mut Rng,
    out: String,
}

impl Writer<'_> {
    fn value(&mut self, depth: usize) {
        let choice = if depth == 0 {
            self.rng.u8(0..5)
        } else {
            self.rng.u8(0..9)
        };
        match choice {
            0 => {
                let word = ["null", "true", "false"][self.rng.usize(0..3)];
                self.out.push_str(word);
            }
            1 => {
                let number = NUMBERS[self.rng.usize(0..NUMBERS.len())];
                self.out.push_str(number);
            }
            2 => {
                let number = self.rng.i64(..);
                let _ = write!(self.out, "{number}");
            }
            3 => {
                let word = WORDS[self.rng.usize(0..WORDS.len())];
                self.string(word);
            }
            4 => {
                let length = self.rng.usize(0..12);
                let text: String = (0..length).map(|_| self.rng.char(..)).collect();
                self.string(&text);
            }
            5 | 6 => self.object(depth - 1),
            _ => self.array(depth - 1),
        }
    }

    fn string(&mut self, text: &str) {
        // `\\ud800` is kept as written: a lone surrogate escape.
        if text.starts_with('\\') {
            let _ = write!(self.out, "\"{text}\"");
        } else {
            self.out
                .push_str(&serde_json::to_string(text).expect("a string encodes"));
        }
    }

    fn object(&mut self, depth: usize) {
        self.out.push('{');
        for index in 0..self.rng.usize(0..6) {
            if index > 0 {
                self.out.push(',');
            }
            let key = KEYS[self.rng.usize(0..KEYS.len())];
            self.string(key);
            self.out.push(':');
            self.value(depth);
        }
        self.out.push('}');
    }

    fn array(&mut self, depth: usize) {
        self.out.push('[');
        for index in 0..self.rng.usize(0..4) {
            if index > 0 {
                self.out.push(',');
            }
            self.value(depth);
        }
        self.out.push(']');
    }
}

/// A query node `depth` deep through `sourceQuery`, its `kind` placed first, last or left out,
/// and its required members present or not: the shapes that made untagged unions exponential.
fn nested_query(rng: &mut Rng, depth: usize) -> String {
    let mut node = String::from(r#"{"kind":"HogQLQuery","query":"select 1"}"#);
    for _ in 0..depth {
        let kind = ["HogQLMetadata", "HogQLAutocomplete", "EventsNode", ""][rng.usize(0..4)];
        let members = if rng.bool() {
            r#""endPosition":0,"language":"hogQL","query":"select","startPosition":0,"#
        } else {
            ""
        };
        node = match (kind, rng.u8(0..3)) {
            ("", _) | (_, 0) => format!(r#"{{{members}"sourceQuery":{node}}}"#),
            (kind, 1) => format!(r#"{{"kind":"{kind}",{members}"sourceQuery":{node}}}"#),
            (kind, _) => format!(r#"{{{members}"sourceQuery":{node},"kind":"{kind}"}}"#),
        };
    }
    node
}

/// Brackets or single-key objects nested `depth` deep, closed or cut short.
fn deep_brackets(rng: &mut Rng, depth: usize) -> String {
    let mut out = String::new();
    let objects = rng.bool();
    for _ in 0..depth {
        out.push_str(if objects { r#"{"sourceQuery":"# } else { "[" });
    }
    out.push_str("null");
    if rng.bool() {
        for _ in 0..depth {
            out.push(if objects { '}' } else { ']' });
        }
    }
    out
}

/// A valid document of one of the targets, then mutated: a member repeated with another value,
/// members reordered, or a value replaced.
fn mutated_document(rng: &mut Rng) -> String {
    let documents = [
        r#"{"id":1,"key":"beta","name":"Beta","filters":{"groups":[{"properties":[],"rollout_percentage":50}]},"active":true,"created_at":"2025-03-01T10:00:00Z","version":3,"tags":["a"]}"#,
        r#"{"count":1,"next":"http://127.0.0.1/api/projects/1/feature_flags/?offset=100","previous":null,"results":[{"id":1,"key":"beta"}]}"#,
        r#"{"next":null,"results":[{"id":7,"name":"Ada","distinct_ids":["d1"],"properties":{"email":"a@example.com"},"uuid":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}]}"#,
        r#"{"query":{"kind":"HogQLQuery","query":"select 1"},"async":false,"client_query_id":"q1"}"#,
        r#"{"kind":"HogQLMetadata","language":"hogQL","query":"select","sourceQuery":{"kind":"EventsQuery","select":["*"]}}"#,
    ];
    let document = documents[rng.usize(0..documents.len())];
    let Ok(serde_json::Value::Object(members)) = serde_json::from_str(document) else {
        return document.to_owned();
    };
    let mut members: Vec<(String, String)> = members
        .into_iter()
        .map(|(key, value)| (key, value.to_string()))
        .collect();
    for _ in 0..rng.usize(1..4) {
        let index = rng.usize(0..members.len());
        match rng.u8(0..4) {
            0 => {
                let mut writer = Writer {
                    rng,
                    out: String::new(),
                };
                writer.value(4);
                let key = members[index].0.clone();
                members.push((key, writer.out));
            }
            1 => rng.shuffle(&mut members),
            2 => {
                let mut writer = Writer {
                    rng,
                    out: String::new(),
                };
                writer.value(3);
                members[index].1 = writer.out;
            }
            _ => {
                members[index].1 = NUMBERS[rng.usize(0..NUMBERS.len())].to_owned();
            }
        }
    }
    let body: Vec<String> = members
        .iter()
        .map(|(key, value)| format!("{}:{value}", serde_json::Value::from(key.as_str())))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// A string member of `size` bytes in an otherwise valid flag.
fn huge_string(rng: &mut Rng) -> String {
    let size = rng.usize(100_000..2_000_000);
    format!(r#"{{"key":"{}","name":"x"}}"#, "k".repeat(size))
}

/// One case: mostly small random documents, with the adversarial shapes mixed in.
fn case(rng: &mut Rng) -> String {
    match rng.u8(0..100) {
        0..=39 => {
            let mut writer = Writer {
                rng,
                out: String::new(),
            };
            writer.object(5);
            writer.out
        }
        40..=64 => mutated_document(rng),
        65..=84 => {
            let depth = rng.usize(0..DEEPEST);
            nested_query(rng, depth)
        }
        85..=97 => {
            let depth = rng.usize(100..DEEPEST * 2);
            deep_brackets(rng, depth)
        }
        _ => huge_string(rng),
    }
}

/// Runs `cases` cases from `seed` on a thread with the default stack; panics name the case.
fn run(seed: u64, cases: usize) {
    let worker = std::thread::Builder::new()
        .name("decode-fuzz".into())
        .stack_size(DEFAULT_THREAD_STACK)
        .spawn(move || {
            let mut rng = Rng::with_seed(seed);
            let started = Instant::now();
            for number in 0..cases {
                let input = case(&mut rng);
                if std::env::var_os("POSTHOG_DECODE_FUZZ_TRACE").is_some() {
                    eprintln!(
                        "case {number}: {}",
                        input.chars().take(300).collect::<String>()
                    );
                }
                for (name, decode) in TARGETS {
                    if std::env::var_os("POSTHOG_DECODE_FUZZ_TRACE").is_some() {
                        eprintln!("  {name}");
                    }
                    let outcome = catch_unwind(AssertUnwindSafe(|| decode(input.as_bytes())));
                    if outcome.is_err() {
                        let shown: String = input.chars().take(2_000).collect();
                        panic!("case {number} (seed {seed}) panicked decoding {name}: {shown}");
                    }
                }
            }
            let elapsed = started.elapsed();
            println!(
                "decode fuzz: {cases} cases x {} targets, seed {seed}, {:.1} s, 0 panics",
                TARGETS.len(),
                elapsed.as_secs_f64()
            );
        })
        .expect("the fuzz thread starts");
    if worker.join().is_err() {
        panic!("decoding panicked (the case is printed above)");
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|text| text.parse().ok())
}

#[test]
fn random_and_adversarial_json_never_panics_or_overflows_the_stack() {
    let cases = env_number("POSTHOG_DECODE_FUZZ_CASES").unwrap_or(600);
    let seed = env_number("POSTHOG_DECODE_FUZZ_SEED").unwrap_or(0x5eed);
    run(seed, usize::try_from(cases).unwrap_or(usize::MAX));
}

#[test]
fn query_unions_nested_to_the_recursion_limit_decode_on_a_default_stack() {
    // Every variant of the exponential case at the deepest nesting serde_json accepts: `kind`
    // after `sourceQuery` (tried in order, each level was decoded twice), and no `kind` at all.
    let worker = std::thread::Builder::new()
        .stack_size(DEFAULT_THREAD_STACK)
        .spawn(|| {
            for kind_first in [true, false] {
                let mut node = String::from(r#"{"kind":"HogQLQuery","query":"select 1"}"#);
                for _ in 0..120 {
                    let members =
                        r#""endPosition":0,"language":"hogQL","query":"select","startPosition":0"#;
                    node = if kind_first {
                        format!(r#"{{"kind":"HogQLAutocomplete",{members},"sourceQuery":{node}}}"#)
                    } else {
                        format!(r#"{{{members},"sourceQuery":{node},"kind":"HogQLAutocomplete"}}"#)
                    };
                }
                let decoded: HogQlAutocompleteSourceQuery =
                    serde_json::from_str(&node).expect("nested autocomplete nodes decode");
                let mut depth = 0;
                let mut current = &decoded;
                while let HogQlAutocompleteSourceQuery::HogQlAutocomplete(inner) = current {
                    depth += 1;
                    match inner.source_query.as_deref() {
                        Some(next) => current = next,
                        None => break,
                    }
                }
                assert_eq!(depth, 120, "every level is the variant its kind names");
            }
        })
        .expect("the thread starts");
    worker.join().expect("decoding finished without a panic");
}
