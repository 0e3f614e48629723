//! The environment: `RUSTLOCUST_<OPTION>` for every option and Locust's `LOCUST_*` names for the
//! options Locust has, read into two layers (ours wins). An empty variable counts as unset.
//! Locust ignores variables it does not know; a `LOCUST_*` or `RUSTLOCUST_*` variable no option
//! reads gets a warning here, with the closest known name.

use super::defs::{Raw, OPTIONS, UNSUPPORTED};
use super::error::{closest, OptionsError, Source, Warning};
use super::sources::{set, Env};
use super::values::parse_bool;

pub(super) struct EnvLayers {
    /// From `LOCUST_*`.
    pub locust: Raw,
    /// From `RUSTLOCUST_*`.
    pub ours: Raw,
    pub warnings: Vec<Warning>,
}

pub(super) fn read(env: &Env) -> Result<EnvLayers, OptionsError> {
    let (mut locust, mut ours) = (Raw::default(), Raw::default());
    for def in OPTIONS {
        for var in def.locust_env {
            if let Some(value) = env.get(var) {
                set(&mut locust, def, value, Source::Env(var.to_string()))?;
            }
        }
        let var = def.env_var();
        if let Some(value) = env.get(&var) {
            set(&mut ours, def, value, Source::Env(var))?;
        }
    }
    for u in UNSUPPORTED {
        for var in u.env {
            // `LOCUST_MODE_MASTER=false` does not ask for the option.
            let used = env
                .get(var)
                .is_some_and(|v| !u.flag || parse_bool(v) != Ok(false));
            if used {
                return Err(OptionsError::Unsupported {
                    option: u.key,
                    origin: Source::Env(var.to_string()),
                    why: u.why,
                });
            }
        }
    }
    Ok(EnvLayers {
        locust,
        ours,
        warnings: unknown(env),
    })
}

/// Every name an option or a refused Locust option is read from.
fn known() -> Vec<String> {
    let ours = OPTIONS.iter().flat_map(|d| d.env_vars());
    let refused = UNSUPPORTED
        .iter()
        .flat_map(|u| u.env.iter().map(|v| v.to_string()));
    ours.chain(refused).collect()
}

fn unknown(env: &Env) -> Vec<Warning> {
    let known = known();
    env.iter()
        .map(|(var, _)| var)
        .filter(|var| var.starts_with("LOCUST_") || var.starts_with("RUSTLOCUST_"))
        .filter(|var| !known.iter().any(|k| k == var))
        .map(|var| {
            // LOCUST_JSON: Locust has no variable for --json, ours is RUSTLOCUST_JSON.
            let ours = var
                .strip_prefix("LOCUST_")
                .map(|rest| format!("RUSTLOCUST_{rest}"))
                .filter(|v| known.contains(v));
            let suggestion =
                ours.or_else(|| closest(var, known.iter().map(String::as_str)).map(str::to_string));
            Warning::UnknownEnv {
                var: var.to_string(),
                suggestion,
            }
        })
        .collect()
}
