//! Layered settings: built-in defaults < `ordo.toml` < `ORDO_*` environment variables <
//! command-line flags.
//!
//! clap already knows every setting's flag, variable and default (so `--help` is the one
//! list), and tells us where each value came from. figment merges clap's defaults, the file,
//! and then only the values clap saw on the command line or in the environment.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use clap::ArgMatches;
use clap::parser::ValueSource;
use figment::Figment;
use figment::providers::{Format as _, Serialized, Toml};
use figment::value::{Dict, Value};
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretBox};
use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};

/// The file read when no `--config` is given, if it exists.
pub(crate) const DEFAULT_FILE: &str = "ordo.toml";

/// Settings whose values are never shown: printed as `"***"` when set.
const SECRETS: [&str; 3] = ["order_number_key", "jwt_secret", "token"];

/// serde's `serialize_with` for a secret setting: its value in clear, for [`resolve`] alone,
/// which merges the layers as values and shows secrets as `"***"`. (secrecy gives secrets no
/// `Serialize` on purpose; `Debug` stays redacted.)
#[allow(
    clippy::ref_option,
    reason = "serialize_with passes the field by reference"
)]
pub(crate) fn expose<T, S>(secret: &Option<SecretBox<T>>, serializer: S) -> Result<S::Ok, S::Error>
where
    T: Serialize + Zeroize + ?Sized,
    S: Serializer,
{
    secret
        .as_ref()
        .map(ExposeSecret::expose_secret)
        .serialize(serializer)
}

/// clap's parser for a secret number (the order-number key).
///
/// # Errors
/// When the text is not a number from 0 to 2^64 - 1.
pub(crate) fn secret_number(text: &str) -> Result<SecretBox<u64>, std::num::ParseIntError> {
    text.parse().map(|number| SecretBox::new(Box::new(number)))
}

/// Where the configuration file is, if any.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ConfigFileArgs {
    /// Configuration file (TOML, one `name = value` per setting, names as in
    /// docs/configuration.md). Default: ./ordo.toml when it exists.
    #[arg(long, env = "ORDO_CONFIG", global = true)]
    pub(crate) config: Option<PathBuf>,
}

impl ConfigFileArgs {
    /// The file to read: the one named (which must exist), or `./ordo.toml` if present.
    fn file(&self) -> Result<Option<PathBuf>> {
        match &self.config {
            Some(path) if path.is_file() => Ok(Some(path.clone())),
            Some(path) => bail!("configuration file {} does not exist", path.display()),
            None => {
                let default = PathBuf::from(DEFAULT_FILE);
                Ok(default.is_file().then_some(default))
            }
        }
    }
}

/// Settings resolved from every layer, with where each value came from.
pub(crate) struct Resolved<T> {
    /// The settings in force.
    pub(crate) settings: T,
    /// `name = value  # source` lines, secrets redacted.
    pub(crate) report: String,
    /// Where each setting's value came from: a flag, a variable, the file's path, or
    /// `default`.
    pub(crate) sources: BTreeMap<String, String>,
}

/// Merges `parsed` (what clap read: flags, environment, defaults) with the configuration file.
/// `matches` are the subcommand's; `known` lists every setting a file may name.
pub(crate) fn resolve<T>(
    parsed: &T,
    command: (&clap::Command, &ArgMatches),
    file: &ConfigFileArgs,
    known: &BTreeSet<String>,
) -> Result<Resolved<T>>
where
    T: Serialize + DeserializeOwned,
{
    let all = as_dict(parsed)?;
    let explicit: Dict = all
        .iter()
        .filter(|(name, _)| source_of(command, name).is_some())
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let path = file.file()?;
    let mut from_file = BTreeSet::new();
    let mut figment = Figment::from(Serialized::defaults(&all));
    if let Some(path) = &path {
        from_file = check_file(path, known)?;
        figment = figment.merge(Toml::file_exact(path));
    }
    let figment = figment.merge(Serialized::defaults(explicit));
    let settings: T = figment
        .extract()
        .map_err(|error| explain::<T>(&error, &figment, &all))?;
    let resolved = as_dict(&settings)?;
    let mut report = String::new();
    let mut sources = BTreeMap::new();
    for (name, value) in &resolved {
        let source = match source_of(command, name) {
            Some(source) => source,
            None if from_file.contains(name) => path
                .as_deref()
                .map_or_else(String::new, |path| path.display().to_string()),
            None => "default".to_owned(),
        };
        match value {
            Value::Empty(..) => {
                let _ = writeln!(report, "# {name} is not set  # {source}");
            }
            value => {
                let _ = writeln!(report, "{name} = {}  # {source}", shown(name, value));
            }
        }
        sources.insert(name.clone(), source);
    }
    Ok(Resolved {
        settings,
        report,
        sources,
    })
}

/// Where clap found `name`: its flag or its environment variable; `None` for its default or
/// nothing.
fn source_of((command, matches): (&clap::Command, &ArgMatches), name: &str) -> Option<String> {
    match matches.try_get_raw(name) {
        Ok(Some(_)) => {}
        _ => return None,
    }
    let arg = command.get_arguments().find(|arg| arg.get_id() == name)?;
    match matches.value_source(name)? {
        ValueSource::CommandLine => Some(format!("--{}", arg.get_long().unwrap_or(name))),
        ValueSource::EnvVariable => arg
            .get_env()
            .map(|variable| variable.to_string_lossy().into_owned()),
        _ => None,
    }
}

/// The file's setting names, after checking it parses and names only known settings.
fn check_file(path: &Path, known: &BTreeSet<String>) -> Result<BTreeSet<String>> {
    let dict = Figment::from(Toml::file_exact(path))
        .extract::<Dict>()
        .map_err(|error| one_line(&error))?;
    for (name, value) in &dict {
        if !known.contains(name) {
            let hint = if matches!(value, Value::Dict(..)) {
                " (settings are top-level `name = value` lines, not tables)".to_owned()
            } else {
                closest(name, known)
                    .map(|known| format!(" (did you mean `{known}`?)"))
                    .unwrap_or_default()
            };
            bail!(
                "invalid configuration in {}: unknown setting `{name}`{hint}; the settings are listed in docs/configuration.md",
                path.display()
            );
        }
    }
    Ok(dict.into_keys().collect())
}

/// The known setting nearest to a misspelt `name`, if one is near enough to be what was meant.
fn closest<'a>(name: &str, known: &'a BTreeSet<String>) -> Option<&'a str> {
    // Edits (a transposition counts as one) within a third of the name: `lisen`, `listne`
    // and `db_max_conections` find their setting; `colour` finds none.
    let near = name.chars().count().div_ceil(3).max(1);
    known
        .iter()
        .map(|candidate| (strsim::osa_distance(name, candidate), candidate))
        .filter(|(distance, _)| *distance <= near)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate.as_str())
}

/// Every setting's name, from the command's arguments (the file uses the same names).
pub(crate) fn setting_names(command: &clap::Command) -> BTreeSet<String> {
    command
        .get_arguments()
        .filter(|arg| arg.get_long().is_some() && !arg.is_global_set())
        .map(|arg| arg.get_id().as_str().to_owned())
        .filter(|name| !matches!(name.as_str(), "help" | "version" | "config"))
        .collect()
}

fn as_dict<T: Serialize>(value: &T) -> Result<Dict> {
    Figment::from(Serialized::defaults(value))
        .extract::<Dict>()
        .map_err(|error| anyhow!("cannot read the settings: {error}"))
}

/// Names the setting behind an error. serde's `flatten` (the storage settings) loses the path,
/// so then each setting is tried alone over the defaults to find the one at fault.
fn explain<T: DeserializeOwned>(
    error: &figment::Error,
    figment: &Figment,
    defaults: &Dict,
) -> anyhow::Error {
    if !error.path.is_empty() {
        return one_line(error);
    }
    let Ok(merged) = figment.extract::<Dict>() else {
        return one_line(error);
    };
    for (name, value) in merged {
        let alone = Dict::from([(name.clone(), value)]);
        let trial =
            Figment::from(Serialized::defaults(defaults)).merge(Serialized::defaults(alone));
        if let Err(mut error) = trial.extract::<T>() {
            error.path = vec![name.clone()];
            error.metadata = figment.find_metadata(&name).cloned();
            return one_line(&error);
        }
    }
    one_line(error)
}

/// serde's words for what a setting holds, without Rust's type names.
fn plain_types(text: &str) -> String {
    let mut text = text.to_owned();
    for (rust, plain) in [
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected u64", "expected a whole number, 0 or more"),
        ("expected u32", "expected a whole number, 0 or more"),
        ("expected u16", "expected a whole number, 0 or more"),
        ("expected u8", "expected a whole number, 0 or more"),
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("signed int ", ""),
        ("unsigned int ", ""),
        ("found string ", "found the text "),
        ("invalid type: ", ""),
    ] {
        text = text.replace(rust, plain);
    }
    text
}

/// A figment error as one line that names the setting and where its value came from.
fn one_line(error: &figment::Error) -> anyhow::Error {
    let setting = error.path.join(".");
    let from = error
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.source.as_ref())
        .map(|source| format!(" in {source}"))
        .unwrap_or_default();
    // TOML syntax errors come with a drawing of the line; keep the words.
    let kind = error.kind.to_string();
    let words: Vec<&str> = kind
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.contains('|'))
        .collect();
    let kind = plain_types(&words.join(": "));
    if setting.is_empty() {
        anyhow!("invalid configuration{from}: {kind}")
    } else {
        anyhow!("invalid configuration{from}: `{setting}`: {kind}")
    }
}

/// What `ordo config` prints in place of a secret. Copied back into a file it is not a secret,
/// and every reader of a secret refuses it ([`refuse_mask`]).
pub(crate) const MASK: &str = "***";

/// Refuses `value` for the secret `setting` when it is the mask `ordo config` printed.
pub(crate) fn refuse_mask(setting: &str, value: &str) -> Result<()> {
    if value == MASK {
        anyhow::bail!(
            "invalid configuration: `{setting}` is \"{MASK}\", the mask `ordo config` prints in place of a secret: set the secret itself"
        );
    }
    Ok(())
}

/// A value as TOML would write it; secrets and URL passwords hidden.
fn shown(name: &str, value: &Value) -> String {
    if SECRETS.contains(&name) {
        return format!("\"{MASK}\"");
    }
    match value {
        Value::String(_, text) if name.ends_with("_url") => {
            serde_json::Value::String(crate::storage::redact(text)).to_string()
        }
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::closest;

    #[test]
    fn a_misspelt_setting_finds_its_nearest_name_and_a_stranger_finds_none() {
        let known: BTreeSet<String> = ["listen", "server", "db_max_connections", "data_dir"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(closest("lisen", &known), Some("listen"));
        assert_eq!(closest("listne", &known), Some("listen"));
        assert_eq!(closest("sever", &known), Some("server"));
        assert_eq!(
            closest("db_max_conections", &known),
            Some("db_max_connections")
        );
        assert_eq!(closest("datadir", &known), Some("data_dir"));
        assert_eq!(closest("colour", &known), None);
        assert_eq!(closest("x", &known), None);
    }
}
