//! The README's option table and list of refused Locust options, generated from the option
//! table so that the README cannot fall behind it (a test compares the two).

use super::defs::{OPTIONS, UNSUPPORTED};
use super::table::{OptionDef, Shape};

/// The README lines between these markers are [`markdown`]'s output.
pub const BEGIN: &str =
    "<!-- options: generated from src/options/defs.rs, checked by `cargo test --lib options::docs` -->";
pub const END: &str = "<!-- end of options -->";

/// The option table (visible options, in `--help` order) and the refused Locust options.
pub fn markdown() -> String {
    let mut out = String::from("| option | environment | default | meaning |\n|---|---|---|---|\n");
    for def in OPTIONS.iter().filter(|d| !d.hidden) {
        let ours = std::iter::once(def.env_var());
        let env: Vec<String> = ours
            .chain(def.locust_env.iter().map(|v| v.to_string()))
            .map(|v| format!("`{v}`"))
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            names(def),
            env.join(", "),
            def.shown_default().unwrap_or(""),
            def.help_text_without_default().replace('|', "\\|"),
        ));
    }
    let refused: Vec<String> = UNSUPPORTED
        .iter()
        .map(|u| format!("`--{}` ({})", u.key, u.why))
        .collect();
    out.push_str(&format!(
        "\nLocust options rustlocust refuses, from any source, with exit code 2: {}.\n",
        refused.join(", ")
    ));
    out
}

/// `-u, --users N`, `-f, --scenario, --locustfile SCENARIO`, `USER_CLASS ...`.
fn names(def: &OptionDef) -> String {
    let value = match def.shape {
        Shape::Flag => String::new(),
        Shape::List => format!(" {} ...", def.value_name),
        _ => format!(" {}", def.value_name),
    };
    if !def.flag {
        return format!("`{} ...` (positional)", def.value_name);
    }
    let mut names: Vec<String> = def.short.map(|c| format!("-{c}")).into_iter().collect();
    names.push(format!("--{}", def.key));
    names.extend(def.aliases.iter().map(|a| format!("--{a}")));
    format!("`{}{value}`", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readme_section() -> Option<String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).ok()?;
        let start = readme.find(BEGIN)? + BEGIN.len();
        let end = readme[start..].find(END)? + start;
        Some(readme[start..end].trim().to_string())
    }

    #[test]
    fn readme_has_the_generated_table() {
        let expected = markdown();
        assert!(
            readme_section().as_deref() == Some(expected.trim()),
            "README.md's option table differs from the option table. Replace the lines between \
             `{BEGIN}` and `{END}` with the output of \
             `cargo test --lib options::docs::print_readme_table -- --ignored --nocapture`:\n\n{expected}"
        );
    }

    /// Prints the README section (run with `--ignored --nocapture`).
    #[test]
    #[ignore]
    fn print_readme_table() {
        println!("{}", markdown());
    }
}
