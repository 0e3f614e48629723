//! The `rustlocust` binary: a thin shell over the library (`app.rs` does the work).

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = match rustlocust::options::parse() {
        Ok(parsed) => {
            for warning in &parsed.warnings {
                eprintln!("warning: {warning}");
            }
            rustlocust::app::run_command(parsed.command)
        }
        Err(e) => e.report(),
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}
