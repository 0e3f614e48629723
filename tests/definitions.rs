//! `rustlocust --print-definitions` and the shipped `stdlib/rustlocust.d.rhai` (editor support):
//! the file must be exactly what the engine registers, so editors never autocomplete a function
//! that does not exist or miss one that does.

use std::path::Path;
use std::process::Command;

const SHIPPED: &str = "stdlib/rustlocust.d.rhai";
const REGENERATE: &str =
    "regenerate it with `cargo run -- --print-definitions > stdlib/rustlocust.d.rhai` \
     (or `rustlocust --print-definitions > stdlib/rustlocust.d.rhai`) and commit the result";

fn print_definitions() -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    // In an empty directory with no RUSTLOCUST_*/LOCUST_* variables and no ~/.locust.conf:
    // nothing but the flag may matter.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rustlocust"));
    cmd.arg("--print-definitions")
        .current_dir(dir.path())
        .env("HOME", dir.path());
    for (k, _) in std::env::vars_os() {
        let k_text = k.to_string_lossy();
        if k_text.starts_with("RUSTLOCUST_") || k_text.starts_with("LOCUST_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().expect("run rustlocust");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "rustlocust --print-definitions failed ({}): {stderr}",
        out.status
    );
    String::from_utf8(out.stdout).expect("definitions are UTF-8")
}

fn shipped() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SHIPPED);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; {REGENERATE}", path.display()))
}

#[test]
fn shipped_file_matches_the_engine() {
    let printed = print_definitions();
    let shipped = shipped();
    if printed != shipped {
        let first = printed
            .lines()
            .zip(shipped.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| printed.lines().count().min(shipped.lines().count()));
        panic!(
            "{SHIPPED} is out of date with the registered API (first difference at line {}: \
             engine {:?}, file {:?}); {REGENERATE}",
            first + 1,
            printed.lines().nth(first).unwrap_or("<end>"),
            shipped.lines().nth(first).unwrap_or("<end>"),
        );
    }
}

#[test]
fn key_api_names_are_described() {
    let text = print_definitions();
    assert!(text.starts_with("//"), "no header comment: {text}");
    assert!(
        text.contains("rustlocust --print-definitions > stdlib/rustlocust.d.rhai"),
        "the header does not say how to regenerate: {text}"
    );
    assert!(text.contains("\nmodule static;\n"), "{text}");
    for name in [
        "user",
        "task",
        "between",
        "get",
        "background",
        "on",
        "fire",
        "report",
        "start_timer",
        "sleep",
    ] {
        assert!(
            text.contains(&format!("\nfn {name}(")),
            "function {name} missing from the definitions:\n{text}"
        );
    }
    // Custom types appear under their script names, with their properties.
    assert!(text.contains("-> Response;"), "{text}");
    assert!(
        text.contains("fn get status(_: Response) -> int;"),
        "{text}"
    );
    assert!(
        text.contains("fn get(_: Client, _: String) -> Response;"),
        "{text}"
    );
    assert!(
        text.contains("fn between(_: ?, _: ?) -> WaitTime;"),
        "{text}"
    );
    assert!(
        text.contains("// Types: ") && text.contains("Response"),
        "{text}"
    );
    // No Rust paths or Rhai's unresolved result types leak into what editors show.
    for leak in ["::", "EvalAltResult", "-> ;", "Dynamic"] {
        assert!(!text.contains(leak), "{leak:?} in the definitions:\n{text}");
    }
    // Rhai's standard library is the language server's business, not ours.
    assert!(!text.contains("\nfn abs("), "standard package included");
}

#[test]
fn print_definitions_does_not_load_the_scenario() {
    // With a scenario argument that does not exist, it still only prints the definitions.
    let out = Command::new(env!("CARGO_BIN_EXE_rustlocust"))
        .args(["--print-definitions", "missing.rhai"])
        .current_dir(tempfile::tempdir().expect("tempdir").path())
        .output()
        .expect("run rustlocust");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), print_definitions());
}
