//! A fixed-seed run of the generator fuzzer (`cargo xtask fuzz`) inside `cargo test`: a
//! thousand generated and mutated documents (the command runs millions), none of which may
//! panic the generator, make it emit code that does not parse, or give different output twice.

/// The seed and size of the run; `cargo xtask fuzz --seed 20251129 --cases 1000` repeats it
/// (mutating every real schema, so its mutants differ).
const SEED: u64 = 20_251_129;
const CASES: u64 = 1_000;

#[test]
fn generator_survives_a_fixed_seed_fuzz_run() {
    // Cases run on this test thread (2 MiB of stack): a stack overflow would abort the test
    // binary, which fails the run as surely as an assertion.
    // The smallest real schema keeps the run to seconds in a debug build; the command mutates
    // all of them.
    let corpus = ["../shared/schemas/posthog-2023-02.yaml"];
    let summary = xtask::fuzz::run_in_process(SEED, 0, CASES, &corpus);
    assert_eq!(summary.cases, CASES);
    let failures: Vec<String> = summary
        .failures
        .iter()
        .map(|(index, failure)| format!("case {index}: {}: {}", failure.kind(), failure.message()))
        .collect();
    assert!(
        failures.is_empty(),
        "reproduce with `cargo xtask fuzz --seed {SEED} --start N --cases 1`:\n{}",
        failures.join("\n")
    );
    // The grammar must reach emission, not only the diagnostics.
    assert!(
        summary.generated * 5 >= CASES,
        "only {} of {CASES} cases generated code",
        summary.generated
    );
}
