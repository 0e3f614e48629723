//! The `rustlocust` binary: a thin shell over the library (`app.rs` does the work).

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = match rustlocust::cli::parse() {
        Ok(cmd) => rustlocust::app::run_command(cmd),
        Err(e) => e.report(),
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}
