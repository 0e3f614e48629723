//! The machinery of the option table: what one declaration holds ([`OptionDef`]), how a value is
//! written ([`Shape`]), and the `options!` macro that turns the declarations of `defs.rs` into
//! the per-source struct `Raw`, the merged-and-defaulted `Values`, and the static `OPTIONS`
//! table every source, the help, the README table and the tests iterate.

use std::borrow::Cow;

use super::defs::Raw;
use super::error::Source;

/// How a value is written: decides the command line's arity, the TOML types accepted, and what
/// a wrong-type error says was expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// No value on the command line; `true`/`false` (also yes/no, on/off, 1/0) elsewhere.
    Flag,
    /// A string (a URL, a path, an address).
    Text,
    Integer,
    /// An integer or a float.
    Number,
    /// A time span: `"1m30s"`, or a number of seconds.
    Span,
    /// Several values: comma- or space-separated in one string, an array in TOML, several words
    /// after the flag on the command line (`-T a b`, as Locust's `nargs="*"`).
    List,
}

impl Shape {
    /// What a TOML value of this shape must be, for wrong-type errors.
    pub fn expected(self) -> &'static str {
        match self {
            Shape::Flag => "a boolean (true or false)",
            Shape::Text => "a string",
            Shape::Integer => "an integer",
            Shape::Number => "a number",
            Shape::Span => "a time span string like \"1m\" or seconds",
            Shape::List => "an array of strings or a comma-separated string",
        }
    }

    /// The text the option's parser reads from a typed TOML value, or the type that was found
    /// instead. TOML numbers are turned back into text so that ranges and messages are the
    /// command line's.
    pub fn toml_text(self, value: &toml::Value) -> Result<Cow<'_, str>, &'static str> {
        use toml::Value as V;
        let found = toml_type_name(value);
        match (self, value) {
            (Shape::Flag, V::Boolean(b)) => Ok(Cow::Borrowed(if *b { "true" } else { "false" })),
            (Shape::Text | Shape::List | Shape::Span, V::String(s)) => Ok(Cow::Borrowed(s)),
            (Shape::Integer | Shape::Number | Shape::Span, V::Integer(i)) => {
                Ok(Cow::Owned(i.to_string()))
            }
            (Shape::Number | Shape::Span, V::Float(f)) => Ok(Cow::Owned(f.to_string())),
            (Shape::List, V::Array(items)) => {
                let texts: Option<Vec<&str>> = items.iter().map(V::as_str).collect();
                texts.map(|t| Cow::Owned(t.join(","))).ok_or(found)
            }
            _ => Err(found),
        }
    }
}

pub fn toml_type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// An option that only means something together with another one.
#[derive(Debug)]
pub struct Needs {
    /// The other option's key.
    pub option: &'static str,
    /// The whole error message when it is missing.
    pub message: &'static str,
}

/// One option, as declared once in `defs.rs`. The key is the long option (`--spawn-rate`), the
/// config-file key (`spawn-rate`, also `spawn_rate`) and the environment variable
/// (`RUSTLOCUST_SPAWN_RATE`).
pub struct OptionDef {
    pub key: &'static str,
    pub short: Option<char>,
    /// Other long names, shown in the help; also keys of Locust-format files (Locust's names,
    /// e.g. `--locustfile`). Not keys of `rustlocust.toml`, which has rustlocust's names only.
    pub aliases: &'static [&'static str],
    /// Like `aliases`, but not shown (`--hatch-rate`, Locust's old name).
    pub hidden_aliases: &'static [&'static str],
    /// Locust's environment variables for this option (read besides `RUSTLOCUST_<KEY>`; Locust
    /// does not always follow its own naming: `LOCUST_USERCLASS_PICKER`).
    pub locust_env: &'static [&'static str],
    pub shape: Shape,
    /// The value's placeholder in the help (`N`, `URL`).
    pub value_name: &'static str,
    /// The default as text, parsed by the option's own parser ("" for none, or for an empty list
    /// or string); flags default to `false`.
    pub default: &'static str,
    /// Shown instead of `default` where the default is not a fixed value ("the number of CPUs").
    pub default_note: &'static str,
    /// A valid value other than the default: the README's example and the value the table-driven
    /// tests set from every source.
    pub example: &'static str,
    /// From the declaration's doc comment.
    pub help: &'static str,
    /// Left out of `--help` and the README.
    pub hidden: bool,
    /// The value may be a password: error messages do not repeat it.
    pub secret: bool,
    /// Has a `--key` flag (false for the user classes, which are positional arguments).
    pub flag: bool,
    /// May be set in config files (false for `config` itself).
    pub in_files: bool,
    pub needs: Option<Needs>,
    /// Runs the parser, for clap's validation.
    pub(super) check: fn(&str) -> Result<(), String>,
    /// Parses `text` into `raw`'s field, remembering `source`.
    pub(super) set: fn(&mut Raw, &str, Source) -> Result<(), String>,
    /// Given, and not its "off" value (`false`, `--autoquit -1`): what [`Needs`] checks.
    pub(super) active: fn(&Raw) -> bool,
    pub(super) source: fn(&Raw) -> Option<&Source>,
    /// The field's value in `{:?}` form, for the table-driven tests.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) debug: fn(&Raw) -> Option<String>,
}

impl OptionDef {
    /// What every declaration starts from; the macro fills in the rest.
    pub(super) const BASE: OptionDef = OptionDef {
        key: "",
        short: None,
        aliases: &[],
        hidden_aliases: &[],
        locust_env: &[],
        shape: Shape::Text,
        value_name: "",
        default: "",
        default_note: "",
        example: "",
        help: "",
        hidden: false,
        secret: false,
        flag: true,
        in_files: true,
        needs: None,
        check: |_| Ok(()),
        set: |_, _, _| Ok(()),
        active: |_| false,
        source: |_| None,
        debug: |_| None,
    };

    /// `RUSTLOCUST_SPAWN_RATE` for `spawn-rate`.
    pub fn env_var(&self) -> String {
        format!(
            "RUSTLOCUST_{}",
            self.key.replace('-', "_").to_ascii_uppercase()
        )
    }

    /// Every environment variable this option is read from, lowest precedence first: Locust's,
    /// then ours.
    pub fn env_vars(&self) -> impl Iterator<Item = String> + '_ {
        self.locust_env
            .iter()
            .map(|v| v.to_string())
            .chain(std::iter::once(self.env_var()))
    }

    /// The help text: the doc comment on one line, and the default when there is one to show.
    pub fn help_text(&self) -> String {
        let help = self.help_text_without_default();
        match self.shown_default() {
            Some(d) => format!("{help} [default: {d}]"),
            None => help,
        }
    }

    /// The doc comment on one line.
    pub fn help_text_without_default(&self) -> String {
        self.help.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The default as the help and the README show it, if there is one worth showing.
    pub fn shown_default(&self) -> Option<&'static str> {
        if !self.default_note.is_empty() {
            Some(self.default_note)
        } else if self.shape == Shape::Flag || self.default.is_empty() {
            None
        } else {
            Some(self.default)
        }
    }

    /// The long names a Locust-format file may use for this option (`_` for `-` is accepted
    /// separately).
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.key)
            .chain(self.aliases.iter().copied())
            .chain(self.hidden_aliases.iter().copied())
    }
}

/// "Given and not off": the default for every value type; flags and optional values override it.
pub trait Active {
    fn active(&self) -> bool {
        true
    }
}

impl Active for bool {
    fn active(&self) -> bool {
        *self
    }
}

impl<T> Active for Option<T> {
    fn active(&self) -> bool {
        self.is_some()
    }
}

macro_rules! always_active {
    ($($t:ty),*) => { $(impl Active for $t {})* };
}
always_active!(
    u16,
    u64,
    usize,
    i32,
    f64,
    String,
    std::time::Duration,
    std::path::PathBuf,
    std::net::IpAddr,
    log::LevelFilter,
    crate::http::EngineKind,
    (String, String),
    Vec<String>,
    Vec<std::path::PathBuf>
);

/// Declares the options: `/// help` then `field: Type = parser, default "text" { attributes }`
/// (`default` is optional: without it the merged value is an `Option`). Generates `Raw`,
/// `Values` and `OPTIONS` in the invoking module.
macro_rules! options {
    (@ty $ty:ty) => { Option<$ty> };
    (@ty $ty:ty, $default:literal) => { $ty };
    (@resolve $given:expr, $parser:path, $key:expr) => { Ok($given.map(|g| g.value)) };
    (@resolve $given:expr, $parser:path, $key:expr, $default:literal) => {
        match $given {
            Some(g) => Ok(g.value),
            None => $parser($default).map_err(|reason| BadDefault { option: $key, reason }),
        }
    };
    (@key key: $key:expr $(, $attr:ident : $val:expr)*) => { $key };
    (@key $attr0:ident : $val0:expr $(, $attr:ident : $val:expr)*) => {
        options!(@key $($attr : $val),*)
    };
    ($(
        $(#[doc = $doc:literal])*
        $field:ident : $ty:ty = $parser:path $(, default $default:literal)? {
            $($attr:ident : $val:expr),* $(,)?
        }
    )*) => {
        /// One source's values (`None`: not given there), or several sources' merged by
        /// [`Raw::over`].
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct Raw {
            $( $(#[doc = $doc])* pub $field: Option<$crate::options::error::Given<$ty>>, )*
        }

        /// Every option's value once the sources are merged, defaults applied.
        #[derive(Clone, Debug)]
        pub struct Values {
            $( $(#[doc = $doc])* pub $field: options!(@ty $ty $(, $default)?), )*
        }

        impl Raw {
            /// `self` where given, else `lower`.
            pub fn over(self, lower: Raw) -> Raw {
                Raw { $( $field: self.$field.or(lower.$field), )* }
            }

            /// The values, with each option's declared default where no source gave one.
            pub fn resolve(self) -> Result<Values, BadDefault> {
                Ok(Values {
                    $( $field: options!(@resolve self.$field, $parser, options!(@key $($attr : $val),*) $(, $default)?)?, )*
                })
            }
        }

        /// Every option, in the order of `--help` and the README.
        pub static OPTIONS: &[OptionDef] = &[ $(
            OptionDef {
                $($attr: $val,)*
                $(default: $default,)?
                help: concat!($($doc),*),
                check: |text| $parser(text).map(drop),
                set: |raw, text, source| {
                    raw.$field = Some($crate::options::error::Given { value: $parser(text)?, source });
                    Ok(())
                },
                active: |raw| raw.$field.as_ref().is_some_and(|g| Active::active(&g.value)),
                source: |raw| raw.$field.as_ref().map(|g| &g.source),
                debug: |raw| raw.$field.as_ref().map(|g| format!("{:?}", g.value)),
                ..OptionDef::BASE
            },
        )* ];
    };
}

/// A declared default its own parser rejects: a mistake in `defs.rs`, which a test catches.
#[derive(Debug, thiserror::Error)]
#[error("the built-in default of --{option} is invalid: {reason}")]
pub struct BadDefault {
    pub option: &'static str,
    pub reason: String,
}

/// A Locust option rustlocust does not have: refused from every source, never ignored.
pub struct Unsupported {
    /// Locust's long option, also its config-file key.
    pub key: &'static str,
    /// Locust's environment variables for it.
    pub env: &'static [&'static str],
    /// A flag (`--master`): `false` in a file or variable does not use it.
    pub flag: bool,
    /// Why, in a few words.
    pub why: &'static str,
}
