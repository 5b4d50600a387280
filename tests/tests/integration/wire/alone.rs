//! A test that checks state its whole process shares (a warning logged once per process) runs in
//! a child process of this test binary that runs it alone: in the shared process, another test
//! may already have used that state up.

use std::process::Command;

/// The variable that tells the child which test it is there to run.
const ALONE: &str = "POSTHOG_API_TEST_ALONE";

/// The name libtest gives test function `name` of module `module` (its `module_path!()`): the
/// module path without the crate, then the function.
pub fn test_name(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_, path)) => format!("{path}::{name}"),
        None => name.to_owned(),
    }
}

/// `true` in the child process this starts for test `name` of `module`: the caller runs the test
/// there. Elsewhere, runs this test binary with only that test, fails unless it ran and passed,
/// and returns `false`: the caller returns.
pub fn run_alone(module: &str, name: &str) -> bool {
    let test = test_name(module, name);
    if std::env::var_os(ALONE).is_some_and(|running| running == test.as_str()) {
        return true;
    }
    let output = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", &test, "--test-threads=1"])
        .env(ALONE, &test)
        .output()
        .expect("the test binary starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{test}, run alone:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    false
}
