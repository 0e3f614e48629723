//! Run one test function of the current test binary as a child process: for behaviour that needs
//! a process of its own (a server stopped by a signal, what it prints on stdout, its exit code)
//! driven through the library's options, where the binary has no flag for them. The child test
//! does its work only when started this way (it finds its spec in the environment) and passes
//! as a no-op otherwise.

use std::process::Command;

use super::{spawn, Proc};

const SPEC_VAR: &str = "RUSTLOCUST_TEST_CHILD_SPEC";

/// In a child: the spec it was started with; None in a normal test run.
pub fn child_spec() -> Option<String> {
    std::env::var(SPEC_VAR).ok()
}

/// Start the test `name` of this test binary alone, in a child process, with `spec`.
pub fn spawn_child(name: &str, spec: &str) -> Proc {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut c = Command::new(exe);
    c.args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .env(SPEC_VAR, spec);
    spawn(c)
}
