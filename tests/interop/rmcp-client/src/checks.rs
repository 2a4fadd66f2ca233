//! One line per check, TAP-like, and the exit code the harness reads.

use std::process::ExitCode;

#[derive(Default)]
pub struct Checks {
    failed: usize,
    passed: usize,
}

impl Checks {
    pub fn check(&mut self, passed: bool, what: impl AsRef<str>) -> bool {
        if passed {
            self.passed += 1;
            println!("ok - {}", what.as_ref());
        } else {
            self.failed += 1;
            println!("not ok - {}", what.as_ref());
        }
        passed
    }

    /// Records an error that ended the scenario early as a failed check.
    pub fn abort(&mut self, error: &anyhow::Error) {
        self.check(false, format!("scenario stopped: {error:#}"));
    }

    pub fn exit_code(&self) -> ExitCode {
        if self.failed == 0 && self.passed > 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
    }
}
