//! The configuration file, layered under the environment and the flags.
//!
//! Precedence, lowest first: built-in defaults < the TOML file (`--config FILE` or
//! `NEWSWIRE_CONFIG`) < environment variables < flags. The file's values become the defaults
//! of the command line before it is parsed, so clap's own precedence (flag, then env, then
//! default) gives the layering, and every value goes through the same parsers and checks as a
//! flag. Unknown sections and keys, and values of the wrong type, are refused with the key's
//! path (exit 64).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

/// The kind of value a key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Bool,
    /// A list of strings, or one string of comma-separated items.
    List,
}

/// One key of the file: its section and name, the command-line argument it sets, its kind,
/// whether it is a secret (masked by `config check`), and the commands it applies to (`None`:
/// every command that has the argument).
#[derive(Debug)]
struct Key {
    section: &'static str,
    name: &'static str,
    arg: &'static str,
    kind: Kind,
    secret: bool,
    /// A URL that may carry a password: masked when shown.
    url: bool,
    commands: Option<&'static [&'static str]>,
}

impl Key {
    /// Kept out of `--help`, whose defaults the file's values become.
    fn hidden(&self) -> bool {
        self.secret || self.url
    }
}

const STAGES: &[&str] = &["producer serve", "classifier", "sink"];
const fn key(section: &'static str, name: &'static str, arg: &'static str, kind: Kind) -> Key {
    Key {
        section,
        name,
        arg,
        kind,
        secret: false,
        url: false,
        commands: None,
    }
}
const fn secret(section: &'static str, name: &'static str, arg: &'static str) -> Key {
    Key {
        section,
        name,
        arg,
        kind: Kind::Text,
        secret: true,
        url: false,
        commands: None,
    }
}
const fn url(mut k: Key) -> Key {
    k.url = true;
    k
}
const fn only(mut k: Key, commands: &'static [&'static str]) -> Key {
    k.commands = Some(commands);
    k
}

/// Every key the file may hold.
const KEYS: &[Key] = &[
    url(key("nats", "url", "nats_url", Kind::List)),
    key("nats", "prefix", "prefix", Kind::Text),
    key("nats", "replicas", "replicas", Kind::Integer),
    key("nats", "name", "nats_name", Kind::Text),
    key("nats", "user", "nats_user", Kind::Text),
    secret("nats", "password", "nats_password"),
    secret("nats", "token", "nats_token"),
    key("nats", "nkey", "nats_nkey", Kind::Text),
    key("nats", "creds", "nats_creds", Kind::Text),
    key("nats", "tls_ca", "nats_tls_ca", Kind::Text),
    key("nats", "tls_cert", "nats_tls_cert", Kind::Text),
    key("nats", "tls_key", "nats_tls_key", Kind::Text),
    key("log", "format", "log_format", Kind::Text),
    only(
        key("metrics", "listen", "metrics_listen", Kind::Text),
        STAGES,
    ),
    only(
        key("producer", "listen", "listen", Kind::Text),
        &["producer serve"],
    ),
    only(secret("producer", "token", "token"), &["producer serve"]),
    only(
        key("producer", "inbox", "inbox", Kind::Text),
        &["producer serve"],
    ),
    only(
        key(
            "producer",
            "inbox_rescan_secs",
            "inbox_rescan_secs",
            Kind::Integer,
        ),
        &["producer serve"],
    ),
    only(
        key("producer", "feeds", "feeds", Kind::List),
        &["producer serve"],
    ),
    only(
        key(
            "producer",
            "feed_interval_secs",
            "feed_interval_secs",
            Kind::Integer,
        ),
        &["producer serve"],
    ),
    only(
        key(
            "producer",
            "feed_timeout_secs",
            "feed_timeout_secs",
            Kind::Integer,
        ),
        &["producer serve"],
    ),
    only(
        key("producer", "no_fetch_pages", "no_fetch_pages", Kind::Bool),
        &["producer serve"],
    ),
    only(
        key("producer", "seen_days", "seen_days", Kind::Integer),
        &["producer serve"],
    ),
    only(
        key(
            "producer",
            "max_article_bytes",
            "max_article_bytes",
            Kind::Integer,
        ),
        &["producer serve", "publish"],
    ),
    only(
        key(
            "producer",
            "max_sentence_bytes",
            "max_sentence_bytes",
            Kind::Integer,
        ),
        &["producer serve", "publish"],
    ),
    only(
        key("classifier", "dict", "dict_dir", Kind::Text),
        &["classifier", "up", "classify", "eval"],
    ),
    only(
        key("classifier", "durable", "durable", Kind::Text),
        &["classifier"],
    ),
    only(
        key("classifier", "max_deliver", "max_deliver", Kind::Integer),
        &["classifier"],
    ),
    only(
        key(
            "classifier",
            "ack_wait_secs",
            "ack_wait_secs",
            Kind::Integer,
        ),
        &["classifier"],
    ),
    only(
        key("classifier", "max_batch", "max_batch", Kind::Integer),
        &["classifier"],
    ),
    only(
        key("classifier", "in_flight", "in_flight", Kind::Integer),
        &["classifier"],
    ),
    only(
        key(
            "classifier",
            "max_ack_pending",
            "max_ack_pending",
            Kind::Integer,
        ),
        &["classifier"],
    ),
    only(
        key(
            "classifier",
            "max_sentence_bytes",
            "max_sentence_bytes",
            Kind::Integer,
        ),
        &["classifier"],
    ),
    only(
        url(key("sink", "store", "store", Kind::Text)),
        &["sink", "query", "up", "demo"],
    ),
    only(key("sink", "durable", "durable", Kind::Text), &["sink"]),
    only(
        key("sink", "max_deliver", "max_deliver", Kind::Integer),
        &["sink"],
    ),
    only(
        key("sink", "ack_wait_secs", "ack_wait_secs", Kind::Integer),
        &["sink"],
    ),
    only(
        key("sink", "max_batch", "max_batch", Kind::Integer),
        &["sink"],
    ),
    only(
        key("sink", "in_flight", "in_flight", Kind::Integer),
        &["sink"],
    ),
    only(
        key("sink", "max_ack_pending", "max_ack_pending", Kind::Integer),
        &["sink"],
    ),
    only(
        key("sink", "linger_ms", "linger_ms", Kind::Integer),
        &["sink"],
    ),
];

/// Why the configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The values a file gives, by key, as the strings a flag would carry.
#[derive(Debug, Default)]
pub struct FileValues {
    pub path: Option<PathBuf>,
    values: BTreeMap<(&'static str, &'static str), Vec<String>>,
}

impl FileValues {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text)
            .map_err(|message| ConfigError::Invalid {
                path: path.to_owned(),
                message,
            })
            .map(|mut values| {
                values.path = Some(path.to_owned());
                values
            })
    }

    /// Parses the file's text; the error names the offending key's path.
    fn parse(text: &str) -> Result<Self, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut values = BTreeMap::new();
        for (section, content) in &table {
            let toml::Value::Table(content) = content else {
                return Err(format!(
                    "`{section}` must be a section ([{section}]), not a value"
                ));
            };
            if !KEYS.iter().any(|k| k.section == section) {
                let known: Vec<&str> = sections();
                return Err(format!(
                    "unknown section [{section}]; the sections are {}",
                    known.join(", ")
                ));
            }
            for (name, value) in content {
                let Some(key) = KEYS.iter().find(|k| k.section == section && k.name == name) else {
                    let known: Vec<&str> = KEYS
                        .iter()
                        .filter(|k| k.section == section)
                        .map(|k| k.name)
                        .collect();
                    return Err(format!(
                        "unknown key `{section}.{name}`; [{section}] takes {}",
                        known.join(", ")
                    ));
                };
                let strings = as_strings(key, value)
                    .ok_or_else(|| format!("`{section}.{name}` must be {}", describe(key.kind)))?;
                values.insert((key.section, key.name), strings);
            }
        }
        Ok(Self { path: None, values })
    }

    /// Makes the file's values the defaults of every command they apply to.
    pub fn apply(&self, mut command: Command) -> Command {
        for path in command_paths(&command) {
            for key in KEYS {
                let Some(values) = self.values.get(&(key.section, key.name)) else {
                    continue;
                };
                if key.commands.is_some_and(|c| !c.contains(&path.as_str())) {
                    continue;
                }
                command = with_default(command, &path, key.arg, values, key.hidden());
            }
        }
        command
    }

    fn has(&self, key: &Key) -> bool {
        self.values.contains_key(&(key.section, key.name))
    }
}

fn sections() -> Vec<&'static str> {
    let mut sections: Vec<&str> = KEYS.iter().map(|k| k.section).collect();
    sections.dedup();
    sections
}

fn describe(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "a string",
        Kind::Integer => "an integer",
        Kind::Bool => "true or false",
        Kind::List => "a string or a list of strings",
    }
}

fn as_strings(key: &Key, value: &toml::Value) -> Option<Vec<String>> {
    use toml::Value;
    match (key.kind, value) {
        (Kind::Text, Value::String(s)) => Some(vec![s.clone()]),
        (Kind::Integer, Value::Integer(i)) => Some(vec![i.to_string()]),
        (Kind::Bool, Value::Boolean(b)) => Some(vec![b.to_string()]),
        (Kind::List, Value::String(s)) => Some(vec![s.clone()]),
        (Kind::List, Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

/// Every command and subcommand, by its path (`producer serve`), the root as "".
fn command_paths(command: &Command) -> Vec<String> {
    let mut paths = vec![String::new()];
    for sub in command.get_subcommands() {
        let name = sub.get_name().to_owned();
        paths.push(name.clone());
        for inner in sub.get_subcommands() {
            paths.push(format!("{name} {}", inner.get_name()));
        }
    }
    paths
}

/// Sets `arg`'s default in the command at `path`, when that command has the argument.
/// A list goes to a multi-valued argument as values, to a single-valued one (the NATS URL)
/// joined with commas, the form its flag takes.
/// `hidden` keeps the value out of `--help` (secrets, and URLs that may carry a password).
fn with_default(
    command: Command,
    path: &str,
    arg: &str,
    values: &[String],
    hidden: bool,
) -> Command {
    let joined = clap::builder::OsStr::from(values.join(","));
    let values: Vec<clap::builder::OsStr> = values
        .iter()
        .map(|v| clap::builder::OsStr::from(v.clone()))
        .collect();
    let set = |c: Command| -> Command {
        if c.get_arguments().any(|a| a.get_id() == arg) {
            let (values, joined) = (values.clone(), joined.clone());
            c.mut_arg(arg, move |a| {
                let a = if matches!(a.get_action(), clap::ArgAction::Append) {
                    a.default_values(values)
                } else {
                    a.default_value(joined)
                };
                a.hide_default_value(hidden)
            })
        } else {
            c
        }
    };
    let mut parts = path.split(' ').filter(|p| !p.is_empty());
    match (parts.next(), parts.next()) {
        (None, _) => set(command),
        (Some(outer), None) => command.mut_subcommand(outer, set),
        (Some(outer), Some(inner)) => {
            let inner = inner.to_owned();
            command.mut_subcommand(outer, move |c| c.mut_subcommand(inner, set))
        }
    }
}

/// The configuration file named by `--config FILE` / `--config=FILE` in `args`, else by
/// `NEWSWIRE_CONFIG`.
pub fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut iter = args.iter().skip(1);
    while let Some(arg) = iter.next() {
        let Some(text) = arg.to_str() else { continue };
        if text == "--" {
            break;
        }
        if text == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(path) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os("NEWSWIRE_CONFIG").map(PathBuf::from)
}

/// `newswire config check`: the effective configuration of each stage (or of `only`), each
/// value with where it came from, secrets masked.
pub fn check(
    command: Command,
    file: &FileValues,
    only: Option<&str>,
) -> Result<String, clap::Error> {
    let mut out = String::new();
    match &file.path {
        Some(path) => out.push_str(&format!(
            "# configuration file: {} (valid)\n",
            path.display()
        )),
        None => out.push_str("# no configuration file (--config or NEWSWIRE_CONFIG)\n"),
    }
    for (stage, matches) in stage_matches(&command, only)? {
        let root = &matches;
        let mut sub = &matches;
        for part in stage.split(' ') {
            if let Some(m) = sub.subcommand_matches(part) {
                sub = m;
            }
        }
        out.push_str(&format!("\n# newswire {stage}\n"));
        let mut section = "";
        for key in KEYS {
            if key.commands.is_some_and(|c| !c.contains(&stage)) {
                continue;
            }
            let matches = if key.arg == "log_format" { root } else { sub };
            let Some(value) = render(matches, key) else {
                continue;
            };
            if key.section != section {
                section = key.section;
                out.push_str(&format!("[{section}]\n"));
            }
            let source = match matches.value_source(key.arg) {
                Some(ValueSource::CommandLine) => "flag",
                Some(ValueSource::EnvVariable) => "environment",
                Some(ValueSource::DefaultValue) if file.has(key) => "file",
                _ => "default",
            };
            out.push_str(&format!("{} = {value}  # {source}\n", key.name));
        }
    }
    Ok(out)
}

/// The stage commands `config check` reports on (all, or `only`), parsed from the same merged
/// defaults, environment and file as `check`'s report, for the stages' own checks.
pub fn stage_commands(
    command: &Command,
    only: Option<&str>,
) -> Result<Vec<(&'static str, crate::cli::Command)>, clap::Error> {
    use clap::FromArgMatches;
    stage_matches(command, only)?
        .into_iter()
        .map(|(stage, matches)| Ok((stage, crate::cli::Cli::from_arg_matches(&matches)?.command)))
        .collect()
}

/// Each stage's command line (all, or `only`) parsed with nothing but the stage's name given:
/// what the defaults, the environment and the file make of it.
fn stage_matches(
    command: &Command,
    only: Option<&str>,
) -> Result<Vec<(&'static str, ArgMatches)>, clap::Error> {
    STAGES
        .iter()
        .filter(|s| only.is_none_or(|o| o == **s))
        .map(|stage| {
            let mut argv: Vec<&str> = vec!["newswire"];
            argv.extend(stage.split(' '));
            Ok((*stage, command.clone().try_get_matches_from(argv)?))
        })
        .collect()
}

/// A key's effective value as TOML, `None` when unset.
fn render(matches: &ArgMatches, key: &Key) -> Option<String> {
    let raw: Vec<String> = matches
        .try_get_raw(key.arg)
        .ok()
        .flatten()?
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if raw.is_empty() {
        return None;
    }
    if key.secret {
        return Some("\"***\"".to_owned());
    }
    let quote = |s: &String| toml::Value::String(s.clone()).to_string();
    if key.url {
        // `nats://user:pass@host`, `postgres://user:pass@host/db`: the password is masked.
        let raw: Vec<String> = raw
            .iter()
            .map(|u| newswire_sink::store::redact(u))
            .collect();
        return Some(match raw.as_slice() {
            [one] => quote(one),
            many => format!(
                "[{}]",
                many.iter().map(quote).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    Some(match key.kind {
        Kind::Integer | Kind::Bool => raw.join(","),
        Kind::Text => quote(&raw[0]),
        Kind::List if raw.len() == 1 => quote(&raw[0]),
        Kind::List => format!("[{}]", raw.iter().map(quote).collect::<Vec<_>>().join(", ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_names_an_argument_of_the_commands_it_applies_to() {
        let command = <crate::cli::Cli as clap::CommandFactory>::command();
        let paths = command_paths(&command);
        for key in KEYS {
            let found = paths.iter().any(|path| {
                key.commands.is_none_or(|c| c.contains(&path.as_str()))
                    && find(&command, path)
                        .is_some_and(|c| c.get_arguments().any(|a| a.get_id() == key.arg))
            });
            assert!(
                found,
                "{}.{} -> {} is not an argument",
                key.section, key.name, key.arg
            );
        }
    }

    fn find<'a>(command: &'a Command, path: &str) -> Option<&'a Command> {
        let mut current = command;
        for part in path.split(' ').filter(|p| !p.is_empty()) {
            current = current.find_subcommand(part)?;
        }
        Some(current)
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused_with_their_path() {
        let err = FileValues::parse("[sink]\nstroe = \"x\"\n").expect_err("unknown key");
        assert!(
            err.contains("`sink.stroe`") && err.contains("store"),
            "{err}"
        );
        let err = FileValues::parse("[sinks]\n").expect_err("unknown section");
        assert!(err.contains("[sinks]"), "{err}");
        let err = FileValues::parse("[classifier]\nmax_deliver = \"ten\"\n").expect_err("type");
        assert!(
            err.contains("`classifier.max_deliver` must be an integer"),
            "{err}"
        );
        let err = FileValues::parse("nats = 3\n").expect_err("not a section");
        assert!(err.contains("`nats` must be a section"), "{err}");
        assert!(FileValues::parse("[nats\n").is_err());
    }

    #[test]
    fn file_values_sit_between_defaults_and_the_environment_and_flags() {
        let file = FileValues::parse(
            "[nats]\nurl = [\"nats://a:4222\", \"nats://b:4222\"]\nprefix = \"filed\"\npassword = \"s3cret\"\nuser = \"sink\"\n[sink]\nstore = \"sqlite://file.db\"\nmax_deliver = 3\n[classifier]\nmax_deliver = 7\n",
        )
        .expect("valid");
        let command = file.apply(<crate::cli::Cli as clap::CommandFactory>::command());
        let matches = command
            .clone()
            .try_get_matches_from(["newswire", "sink", "--max-deliver", "5"])
            .expect("parses");
        let sink = matches.subcommand_matches("sink").expect("sink");
        assert_eq!(
            sink.get_one::<String>("store").map(String::as_str),
            Some("sqlite://file.db")
        );
        assert_eq!(
            sink.get_one::<i64>("max_deliver"),
            Some(&5),
            "a flag beats the file"
        );
        assert_eq!(
            sink.get_one::<String>("prefix").map(String::as_str),
            Some("filed")
        );
        assert_eq!(
            sink.get_one::<String>("nats_url").map(String::as_str),
            Some("nats://a:4222,nats://b:4222")
        );
        let matches = command
            .clone()
            .try_get_matches_from(["newswire", "classifier"])
            .expect("parses");
        let classifier = matches
            .subcommand_matches("classifier")
            .expect("classifier");
        assert_eq!(
            classifier.get_one::<i64>("max_deliver"),
            Some(&7),
            "its own section"
        );

        let report = check(command, &file, Some("sink")).expect("checks");
        assert!(
            report.contains("store = \"sqlite://file.db\"  # file"),
            "{report}"
        );
        assert!(report.contains("password = \"***\""), "{report}");
        assert!(!report.contains("s3cret"), "{report}");
        assert!(report.contains("max_deliver = 3  # file"), "{report}");
        assert!(report.contains("max_batch = 256  # default"), "{report}");
    }

    #[test]
    fn secrets_from_the_file_stay_out_of_help_and_check() {
        let file = FileValues::parse(
            "[nats]\nurl = \"nats://u:natspw@h:4222\"\ntoken = \"tokpw\"\n[sink]\nstore = \"postgres://u:pgpw@db/x\"\n",
        )
        .expect("valid");
        let command = file.apply(<crate::cli::Cli as clap::CommandFactory>::command());
        let help = command
            .clone()
            .try_get_matches_from(["newswire", "sink", "--help"])
            .expect_err("help is shown")
            .to_string();
        let report = check(command, &file, Some("sink")).expect("checks");
        for secret in ["natspw", "tokpw", "pgpw"] {
            assert!(!help.contains(secret), "{secret} in help:\n{help}");
            assert!(!report.contains(secret), "{secret} in:\n{report}");
        }
        assert!(
            report.contains("url = \"nats://u:***@h:4222\"  # file"),
            "{report}"
        );
    }

    #[test]
    fn the_documented_example_is_valid_and_parses_for_every_stage() {
        let file = FileValues::parse(include_str!("../../../deploy/newswire.toml"))
            .expect("deploy/newswire.toml is valid");
        let command = file.apply(<crate::cli::Cli as clap::CommandFactory>::command());
        let report = check(command, &file, None).expect("every stage parses");
        assert!(report.contains("# newswire sink"), "{report}");
    }

    #[test]
    fn the_config_flag_is_found_before_parsing() {
        let args: Vec<OsString> = ["newswire", "sink", "--config", "a.toml"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(config_path(&args), Some(PathBuf::from("a.toml")));
        let args: Vec<OsString> = ["newswire", "--config=b.toml", "sink"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(config_path(&args), Some(PathBuf::from("b.toml")));
    }
}
