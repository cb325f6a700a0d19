//! The classifier's dictionaries: TOML data files, validated at load with `file:line`
//! errors and compiled once into one phrase index (crate::phrases).
//!
//! Six files make a dictionary set; the built-in set is compiled into the binary and any
//! file of the same name in a directory given at start-up replaces its built-in twin:
//! `countries.toml`, `people.toml`, `organisations.toml`, `roles.toml`, `cues.toml`,
//! `cameo.toml`. docs/dictionaries.md describes each format.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::phrases::{PhraseIndex, SetId};

/// Why a dictionary set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DictError {
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Every problem found in a dictionary set, so a maintainer fixes them in one round.
#[derive(Debug)]
pub struct DictErrors(pub Vec<DictError>);

impl fmt::Display for DictErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DictErrors {}

/// The text of the six dictionary files, with the names errors are reported under.
#[derive(Debug, Clone)]
pub struct Sources {
    pub files: Vec<(String, String)>,
}

/// The dictionary files, in the order [`Sources::files`] holds them.
pub const FILES: [&str; 6] = [
    "countries.toml",
    "people.toml",
    "organisations.toml",
    "roles.toml",
    "cues.toml",
    "cameo.toml",
];

impl Sources {
    /// The dictionaries shipped with this build.
    pub fn builtin() -> Self {
        let texts = [
            include_str!("../dict/countries.toml"),
            include_str!("../dict/people.toml"),
            include_str!("../dict/organisations.toml"),
            include_str!("../dict/roles.toml"),
            include_str!("../dict/cues.toml"),
            include_str!("../dict/cameo.toml"),
        ];
        Self {
            files: FILES
                .iter()
                .zip(texts)
                .map(|(name, text)| (format!("builtin:{name}"), text.to_owned()))
                .collect(),
        }
    }

    /// The built-in set with every file present in `dir` put in its place.
    pub fn with_overrides(dir: &Path) -> Result<Self, DictError> {
        let mut sources = Self::builtin();
        if !dir.is_dir() {
            return Err(DictError::Io {
                path: dir.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
            });
        }
        for (slot, name) in sources.files.iter_mut().zip(FILES) {
            let path = dir.join(name);
            if path.exists() {
                let text = std::fs::read_to_string(&path).map_err(|source| DictError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
                *slot = (path.display().to_string(), text);
            }
        }
        Ok(sources)
    }

    /// Whether the file at `index` (of [`FILES`]) comes from an override directory.
    pub fn is_override(&self, index: usize) -> bool {
        !self.files[index].0.starts_with("builtin:")
    }

    fn get(&self, index: usize) -> (&str, &str) {
        let (name, text) = &self.files[index];
        (name, text)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountriesFile {
    country: Vec<CountryRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountryRow {
    code: Spanned<String>,
    #[serde(default)]
    names: Vec<Spanned<String>>,
    #[serde(default)]
    adjectives: Vec<Spanned<String>>,
    #[serde(default)]
    capitals: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeopleFile {
    person: Vec<PersonRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonRow {
    name: Spanned<String>,
    #[serde(default)]
    aliases: Vec<Spanned<String>>,
    country: Spanned<String>,
    tenure: Vec<TenureRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenureRow {
    role: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    title: Option<String>,
    from: Spanned<String>,
    #[serde(default)]
    until: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgsFile {
    org: Vec<OrgRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgRow {
    code: Spanned<String>,
    #[serde(default)]
    country: Option<Spanned<String>>,
    #[serde(default)]
    role: Option<Spanned<String>>,
    names: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolesFile {
    #[serde(default)]
    modifiers: Vec<String>,
    role: Vec<RoleRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleRow {
    code: Spanned<String>,
    terms: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CuesFile {
    cue: Vec<CueRow>,
    #[serde(default)]
    ignore: Option<IgnoreRow>,
}

/// Phrases that contain a cue but name no event ("aid workers", "flood warnings"): they win
/// the longest match and are then dropped.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IgnoreRow {
    terms: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CueRow {
    code: Spanned<String>,
    #[serde(default)]
    confidence: Option<f32>,
    /// Fixed phrases, matched as written.
    #[serde(default)]
    terms: Vec<Spanned<String>>,
    /// Verb phrases in the base form, first word the verb: every form is matched.
    #[serde(default)]
    verbs: Vec<Spanned<String>>,
    /// Noun phrases in the singular: the plural is matched too, and a mention that only
    /// refers to the event ("the war", "Russia's invasion") is not coded.
    #[serde(default)]
    nouns: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CameoFile {
    codes: Vec<CameoRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CameoRow {
    code: Spanned<String>,
    name: String,
    goldstein: f32,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    plover: Option<String>,
}

/// CAMEO role codes the dictionaries may use.
pub const ROLES: &[&str] = &[
    "GOV", "MIL", "COP", "JUD", "LEG", "MED", "OPP", "REB", "BUS", "CVL", "REF", "LAB", "EDU",
    "HLH", "SPY", "ELI", "INS", "SEP", "UAF", "CRM", "REL", "AGR", "DEV", "ENV", "HRI", "IGO",
    "NGO", "MOD", "RAD",
];

/// PLOVER event types (draft 0.8).
pub const PLOVER: &[&str] = &[
    "AGREE",
    "CONSULT",
    "SUPPORT",
    "CONCEDE",
    "COOPERATE",
    "AID",
    "RETREAT",
    "REQUEST",
    "ACCUSE",
    "REJECT",
    "THREATEN",
    "PROTEST",
    "SANCTION",
    "MOBILIZE",
    "COERCE",
    "ASSAULT",
];

/// What an actor term names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorRef {
    /// A country by its name or adjective.
    Country(usize),
    /// A country by its capital, standing for its government.
    Capital(usize),
    Person(usize),
    Org(usize),
    /// A role noun; its index into [`ROLES`].
    Role(usize),
}

#[derive(Debug, Clone)]
pub(crate) struct Term {
    pub target: ActorRef,
    pub case_sensitive: bool,
    /// The term as written in the dictionary (for case-sensitive verification).
    pub text: String,
    /// The dictionary entry, for evidence.
    pub entry: String,
}

#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub country: String,
    /// Tenures sorted by start date.
    pub tenures: Vec<Tenure>,
}

#[derive(Debug, Clone)]
pub struct Tenure {
    pub role: String,
    pub from: time::Date,
    pub until: Option<time::Date>,
}

#[derive(Debug, Clone)]
pub struct Org {
    pub code: String,
    pub country: Option<String>,
    pub role: Option<String>,
}

/// A CAMEO code with everything an event carries about it.
#[derive(Debug, Clone)]
pub struct CodeInfo {
    pub code: String,
    pub root: String,
    pub name: String,
    pub category: String,
    pub quad_class: u8,
    pub goldstein: f32,
    pub plover: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Cue {
    pub code: usize,
    pub kind: CueKind,
    /// Length of the cue's text without its "..." gap: ties between cues covering the same
    /// words go to the longer.
    pub literal_len: usize,
    pub confidence: f32,
    pub entry: String,
}

/// How a cue was listed, which decides how its mentions are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CueKind {
    /// `terms`: a fixed phrase.
    Phrase,
    /// `verbs`: a form of a verb phrase.
    Verb,
    /// `nouns`: a noun phrase, not coded where it only refers to the event.
    Noun,
    /// `[ignore]`: a phrase that names no event; its `code` is meaningless.
    Ignore,
}

/// Distinct texts, each with the position it was first added at.
#[derive(Default)]
struct Interned {
    index: HashMap<String, usize>,
    texts: Vec<String>,
}

impl Interned {
    /// The position of `text`, added at the end if it is new.
    fn id(&mut self, text: String) -> usize {
        if let Some(&id) = self.index.get(&text) {
            return id;
        }
        self.index.insert(text.clone(), self.texts.len());
        self.texts.push(text);
        self.texts.len() - 1
    }
}

/// The cue patterns as they are collected: each distinct first part once, with the cues it
/// opens, and each distinct second part once.
#[derive(Default)]
struct PatternTable {
    firsts: Interned,
    patterns: Vec<CuePattern>,
    seconds: Interned,
    /// (first part, second part) -> the cues "a ... b", in the order they were added.
    gapped: HashMap<(usize, usize), Vec<usize>>,
}

impl PatternTable {
    /// Records that `cue` opens with `text` and, for "a ... b", goes on with `second` (lower
    /// case); adds the pattern if it is new.
    fn add(&mut self, text: String, second: Option<String>, cue: usize) {
        let at = self.firsts.id(text);
        if at == self.patterns.len() {
            self.patterns.push(CuePattern::default());
        }
        let Some(second) = second else {
            self.patterns[at].whole.push(cue);
            return;
        };
        let second = self.seconds.id(second);
        self.patterns[at].opens_gapped = true;
        self.gapped.entry((at, second)).or_default().push(cue);
    }
}

/// One cue pattern: the first part of the cues it stands for.
#[derive(Debug, Clone, Default)]
pub(crate) struct CuePattern {
    /// Cues that are this pattern alone, as indexes into the cues.
    pub whole: Vec<usize>,
    /// Whether cues "a ... b" open with it (see [`GappedCues`]).
    pub opens_gapped: bool,
}

/// The cues "a ... b" by their first part `a` (a cue pattern) and second part `b` (an index
/// into the second parts). Second parts are found in a sentence once, apart from first parts,
/// and each one within the window of a first part is looked up here with it: one hash probe,
/// where a first part often opens hundreds of gapped cues.
#[derive(Debug, Default)]
pub(crate) struct GappedCues {
    /// (first << 32 | second) -> the range of `cues` holding its cues.
    by_pair: rustc_hash::FxHashMap<u64, (u32, u32)>,
    cues: Vec<usize>,
}

impl GappedCues {
    fn new(pairs: HashMap<(usize, usize), Vec<usize>>) -> Self {
        let small = |n: usize| u32::try_from(n).expect("fewer than 2^32 cues");
        let mut gapped = Self::default();
        for ((first, second), cues) in pairs {
            let from = small(gapped.cues.len());
            gapped.cues.extend(cues);
            gapped
                .by_pair
                .insert(Self::key(first, second), (from, small(gapped.cues.len())));
        }
        gapped
    }

    fn key(first: usize, second: usize) -> u64 {
        let small = |n: usize| u64::from(u32::try_from(n).expect("fewer than 2^32 patterns"));
        small(first) << 32 | small(second)
    }

    /// The cues opening with cue pattern `first` and going on with second part `second`.
    pub fn cues(&self, first: usize, second: usize) -> &[usize] {
        self.by_pair
            .get(&Self::key(first, second))
            .map_or(&[], |&(from, to)| &self.cues[from as usize..to as usize])
    }
}

/// The phrase sets of [`Dictionary::phrases`].
pub(crate) const ACTOR_TERMS: SetId = 0;
pub(crate) const CUE_PATTERNS: SetId = 1;
pub(crate) const SECOND_PARTS: SetId = 2;

/// A compiled dictionary set.
#[derive(Debug)]
pub struct Dictionary {
    pub countries: Vec<String>,
    pub people: Vec<Person>,
    pub orgs: Vec<Org>,
    pub codes: Vec<CodeInfo>,
    pub(crate) modifiers: HashSet<String>,
    pub(crate) actor_terms: Vec<Term>,
    pub(crate) cue_patterns: Vec<CuePattern>,
    pub(crate) gapped: GappedCues,
    /// Actor terms ([`ACTOR_TERMS`]), cue first parts ([`CUE_PATTERNS`]) and the distinct
    /// second parts of gapped cues ([`SECOND_PARTS`]), found in one pass over a sentence.
    pub(crate) phrases: PhraseIndex,
    pub(crate) cues: Vec<Cue>,
    /// A digest of the dictionary texts, part of the classifier version.
    pub digest: String,
}

struct Collector<'a> {
    errors: Vec<DictError>,
    file: &'a str,
    text: &'a str,
}

impl<'a> Collector<'a> {
    fn at(&mut self, file: &'a str, text: &'a str) {
        self.file = file;
        self.text = text;
    }

    fn error(&mut self, span: std::ops::Range<usize>, message: impl Into<String>) {
        let line = self.text[..span.start.min(self.text.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count()
            + 1;
        self.errors.push(DictError::Invalid {
            file: self.file.to_owned(),
            line,
            message: message.into(),
        });
    }

    fn parse<T: serde::de::DeserializeOwned>(&mut self) -> Option<T> {
        match toml::from_str::<T>(self.text) {
            Ok(value) => Some(value),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                self.error(span, e.message().to_owned());
                None
            }
        }
    }
}

fn is_country_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

fn is_actor_code(code: &str) -> bool {
    (2..=12).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// ALL-CAPS terms of at most five characters are acronyms, matched case-sensitively.
fn is_acronym(term: &str) -> bool {
    term.chars().count() <= 5
        && term.chars().any(|c| c.is_alphabetic())
        && !term.chars().any(|c| c.is_lowercase())
}

fn parse_date(text: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format).ok()
}

impl Dictionary {
    /// The built-in dictionaries. They are checked by the test suite, so failing here is a
    /// build defect, not an input error.
    pub fn builtin() -> Self {
        Self::compile(&Sources::builtin())
            .unwrap_or_else(|e| panic!("built-in dictionaries are invalid:\n{e}"))
    }

    /// Validates and compiles a dictionary set, reporting every problem found.
    pub fn compile(sources: &Sources) -> Result<Self, DictErrors> {
        let mut c = Collector {
            errors: Vec::new(),
            file: "",
            text: "",
        };
        // Every actor term, lower-cased, with where it was first defined: duplicates
        // across files are conflicts.
        let mut seen_terms: HashMap<String, String> = HashMap::new();
        let mut actor_terms: Vec<Term> = Vec::new();
        let mut add_term =
            |c: &mut Collector, term: &Spanned<String>, target: ActorRef, entry: &str| {
                let text = term.get_ref().trim();
                if text.is_empty() {
                    c.error(term.span(), format!("empty term in {entry}"));
                    return;
                }
                if let Some(first) = seen_terms.insert(text.to_lowercase(), entry.to_owned()) {
                    c.error(
                        term.span(),
                        format!("term {text:?} of {entry} is already defined by {first}"),
                    );
                    return;
                }
                actor_terms.push(Term {
                    target,
                    case_sensitive: is_acronym(text),
                    text: text.to_owned(),
                    entry: entry.to_owned(),
                });
            };

        // Countries.
        let (file, text) = sources.get(0);
        c.at(file, text);
        let mut countries = Vec::new();
        let mut country_index: HashMap<String, usize> = HashMap::new();
        if let Some(parsed) = c.parse::<CountriesFile>() {
            for row in parsed.country {
                let code = row.code.get_ref().clone();
                if !is_country_code(&code) {
                    c.error(
                        row.code.span(),
                        format!("country code {code:?} is not three capital letters"),
                    );
                    continue;
                }
                if country_index
                    .insert(code.clone(), countries.len())
                    .is_some()
                {
                    c.error(row.code.span(), format!("country {code} is defined twice"));
                    continue;
                }
                let index = countries.len();
                countries.push(code.clone());
                let entry = format!("country:{code}");
                for term in row.names.iter().chain(&row.adjectives) {
                    add_term(&mut c, term, ActorRef::Country(index), &entry);
                }
                for term in &row.capitals {
                    add_term(&mut c, term, ActorRef::Capital(index), &entry);
                }
            }
        }

        // Organisations (before people, so that their codes may be person countries).
        let (file, text) = sources.get(2);
        c.at(file, text);
        let mut orgs = Vec::new();
        let mut org_codes = HashSet::new();
        if let Some(parsed) = c.parse::<OrgsFile>() {
            for row in parsed.org {
                let code = row.code.get_ref().clone();
                if !is_actor_code(&code) {
                    c.error(
                        row.code.span(),
                        format!("actor code {code:?} must be 2 to 12 capital letters or digits"),
                    );
                    continue;
                }
                let country = row.country.as_ref().map(|s| s.get_ref().clone());
                if let (Some(spanned), Some(country)) = (&row.country, &country)
                    && !country_index.contains_key(country)
                {
                    c.error(
                        spanned.span(),
                        format!("org {code}: unknown country {country:?}"),
                    );
                }
                let role = row.role.as_ref().map(|s| s.get_ref().clone());
                if let (Some(spanned), Some(role)) = (&row.role, &role)
                    && !ROLES.contains(&role.as_str())
                {
                    c.error(spanned.span(), format!("org {code}: unknown role {role:?}"));
                }
                if let (Some(country), Some(role)) = (&country, &role)
                    && code != format!("{country}{role}")
                {
                    c.error(
                        row.code.span(),
                        format!(
                            "org code {code} contradicts its country {country} and role {role}"
                        ),
                    );
                }
                org_codes.insert(code.clone());
                let index = orgs.len();
                let entry = format!("org:{code}");
                for term in &row.names {
                    add_term(&mut c, term, ActorRef::Org(index), &entry);
                }
                orgs.push(Org {
                    code,
                    country,
                    role,
                });
            }
        }

        // People.
        let (file, text) = sources.get(1);
        c.at(file, text);
        let mut people = Vec::new();
        if let Some(parsed) = c.parse::<PeopleFile>() {
            for row in parsed.person {
                let name = row.name.get_ref().clone();
                let country = row.country.get_ref().clone();
                if !country_index.contains_key(&country) && !org_codes.contains(&country) {
                    c.error(
                        row.country.span(),
                        format!("{name}: unknown country or organisation {country:?}"),
                    );
                    continue;
                }
                let mut tenures = Vec::new();
                for t in &row.tenure {
                    let role = t.role.get_ref();
                    if !ROLES.contains(&role.as_str()) {
                        c.error(t.role.span(), format!("{name}: unknown role {role:?}"));
                        continue;
                    }
                    let Some(from) = parse_date(t.from.get_ref()) else {
                        c.error(t.from.span(), format!("{name}: from is not YYYY-MM-DD"));
                        continue;
                    };
                    let until = match &t.until {
                        None => None,
                        Some(u) => match parse_date(u.get_ref()) {
                            Some(d) if d >= from => Some(d),
                            Some(_) => {
                                c.error(u.span(), format!("{name}: until is before from"));
                                continue;
                            }
                            None => {
                                c.error(u.span(), format!("{name}: until is not YYYY-MM-DD"));
                                continue;
                            }
                        },
                    };
                    tenures.push(Tenure {
                        role: role.clone(),
                        from,
                        until,
                    });
                }
                if tenures.is_empty() {
                    c.error(row.name.span(), format!("{name}: no valid tenure"));
                    continue;
                }
                tenures.sort_by_key(|t| t.from);
                let index = people.len();
                let entry = format!("person:{name}");
                add_term(&mut c, &row.name, ActorRef::Person(index), &entry);
                for alias in &row.aliases {
                    add_term(&mut c, alias, ActorRef::Person(index), &entry);
                }
                people.push(Person {
                    name,
                    country,
                    tenures,
                });
            }
        }

        // Roles.
        let (file, text) = sources.get(3);
        c.at(file, text);
        let mut modifiers = HashSet::new();
        if let Some(parsed) = c.parse::<RolesFile>() {
            modifiers = parsed.modifiers.iter().map(|m| m.to_lowercase()).collect();
            for row in parsed.role {
                let code = row.code.get_ref();
                let Some(index) = ROLES.iter().position(|r| r == code) else {
                    c.error(row.code.span(), format!("unknown role code {code:?}"));
                    continue;
                };
                let entry = format!("role:{code}");
                for term in &row.terms {
                    add_term(&mut c, term, ActorRef::Role(index), &entry);
                }
            }
        }

        // CAMEO codes.
        let (file, text) = sources.get(5);
        c.at(file, text);
        let mut codes: Vec<CodeInfo> = Vec::new();
        let mut code_index: HashMap<String, usize> = HashMap::new();
        if let Some(parsed) = c.parse::<CameoFile>() {
            for row in parsed.codes {
                let code = row.code.get_ref().clone();
                let digits = code.bytes().all(|b| b.is_ascii_digit());
                if !digits || !(2..=4).contains(&code.len()) {
                    c.error(
                        row.code.span(),
                        format!("CAMEO code {code:?} must be 2 to 4 digits"),
                    );
                    continue;
                }
                if !(-10.0..=10.0).contains(&row.goldstein) {
                    c.error(
                        row.code.span(),
                        format!("{code}: Goldstein score outside -10..10"),
                    );
                }
                if let Some(p) = &row.plover
                    && !PLOVER.contains(&p.as_str())
                {
                    c.error(
                        row.code.span(),
                        format!("{code}: unknown PLOVER type {p:?}"),
                    );
                }
                let root = code[..2].to_owned();
                let info = if code.len() == 2 {
                    let Ok(n) = code.parse::<u8>() else { continue };
                    if !(1..=20).contains(&n) {
                        c.error(row.code.span(), format!("root {code} is not 01 to 20"));
                        continue;
                    }
                    let Some(category) = row.category.clone() else {
                        c.error(row.code.span(), format!("root {code} needs a category"));
                        continue;
                    };
                    CodeInfo {
                        code: code.clone(),
                        root,
                        name: row.name,
                        category,
                        quad_class: match n {
                            1..=5 => 1,
                            6..=9 => 2,
                            10..=14 => 3,
                            _ => 4,
                        },
                        goldstein: row.goldstein,
                        plover: row.plover,
                    }
                } else {
                    let Some(parent) = code_index.get(&root).map(|&i| codes[i].clone()) else {
                        c.error(
                            row.code.span(),
                            format!("{code}: its root {root} must be listed before it"),
                        );
                        continue;
                    };
                    if row.category.is_some() {
                        c.error(
                            row.code.span(),
                            format!("{code}: only roots carry a category"),
                        );
                    }
                    CodeInfo {
                        code: code.clone(),
                        root,
                        name: row.name,
                        category: parent.category,
                        quad_class: parent.quad_class,
                        goldstein: row.goldstein,
                        plover: row.plover.or(parent.plover),
                    }
                };
                if code_index.insert(code.clone(), codes.len()).is_some() {
                    c.error(
                        row.code.span(),
                        format!("CAMEO code {code} is listed twice"),
                    );
                    continue;
                }
                codes.push(info);
            }
            if c.errors.is_empty() && code_index.iter().filter(|(k, _)| k.len() == 2).count() != 20
            {
                c.error(0..0, "cameo.toml must list all 20 root codes");
            }
        }

        // Cues.
        let (file, text) = sources.get(4);
        c.at(file, text);
        let mut cues = Vec::new();
        let mut patterns = PatternTable::default();
        let mut seen_cues: HashMap<String, String> = HashMap::new();
        if let Some(parsed) = c.parse::<CuesFile>() {
            for row in parsed.cue {
                let code = row.code.get_ref();
                let Some(&code_at) = code_index.get(code) else {
                    c.error(
                        row.code.span(),
                        format!("cue code {code:?} is not in cameo.toml"),
                    );
                    continue;
                };
                let confidence = row.confidence.unwrap_or(0.8);
                if !(0.0..=1.0).contains(&confidence) {
                    c.error(row.code.span(), "confidence must be within 0 and 1");
                }
                if row.terms.is_empty() && row.verbs.is_empty() && row.nouns.is_empty() {
                    c.error(row.code.span(), "a cue needs terms, verbs or nouns");
                }
                // (form, listed as, kind, generated): a generated form that repeats a form of
                // the same code is skipped ("attack" the noun and "attack" the verb).
                let mut forms: Vec<(String, &Spanned<String>, CueKind, bool)> = Vec::new();
                for term in &row.terms {
                    forms.push((
                        term.get_ref().trim().to_lowercase(),
                        term,
                        CueKind::Phrase,
                        false,
                    ));
                }
                // Nouns before verbs: "attack" and "attacks" read as nouns (checked for a
                // mere reference), "attacked" and "attacking" as the verb.
                for (list, kind) in [(&row.nouns, CueKind::Noun), (&row.verbs, CueKind::Verb)] {
                    for term in list {
                        let lemma = term.get_ref().trim().to_lowercase();
                        if lemma.split("...").count() > 2 {
                            c.error(
                                term.span(),
                                format!(
                                    "cue {lemma:?}: use \"a\" or \"a ... b\" with non-empty parts"
                                ),
                            );
                            continue;
                        }
                        let expanded = match kind {
                            CueKind::Verb => crate::inflect::verb_phrase_forms(&lemma),
                            _ => crate::inflect::noun_phrase_forms(&lemma),
                        };
                        for (i, form) in expanded.into_iter().enumerate() {
                            forms.push((form, term, kind, i > 0));
                        }
                    }
                }
                // Entries already reported, by where they start: one error per entry.
                let mut reported: Vec<usize> = Vec::new();
                for (text, term, kind, generated) in forms {
                    if reported.contains(&term.span().start) {
                        continue;
                    }
                    let parts: Vec<String> =
                        text.split("...").map(|p| p.trim().to_owned()).collect();
                    if parts.iter().any(String::is_empty) || parts.len() > 2 {
                        c.error(
                            term.span(),
                            format!("cue {text:?}: use \"a\" or \"a ... b\" with non-empty parts"),
                        );
                        continue;
                    }
                    if let Some(first) = seen_cues.get(&text) {
                        if kind == CueKind::Phrase || first != code {
                            let listed = if generated {
                                format!("cue {text:?} (a form of {:?})", term.get_ref())
                            } else {
                                format!("cue {text:?}")
                            };
                            c.error(
                                term.span(),
                                format!("{listed} is listed for {code} and already for {first}"),
                            );
                            reported.push(term.span().start);
                        }
                        continue;
                    }
                    seen_cues.insert(text.clone(), code.clone());
                    let cue = cues.len();
                    cues.push(Cue {
                        code: code_at,
                        literal_len: parts.iter().map(String::len).sum(),
                        kind,
                        confidence,
                        entry: format!("cue:{code}:{text}"),
                    });
                    let mut parts = parts.into_iter();
                    let first = parts.next().unwrap_or_default();
                    patterns.add(first, parts.next(), cue);
                }
            }
            for term in parsed.ignore.iter().flat_map(|row| &row.terms) {
                let text = term.get_ref().trim().to_lowercase();
                if text.is_empty() || text.contains("...") {
                    c.error(
                        term.span(),
                        format!("ignored phrase {text:?}: one plain phrase"),
                    );
                    continue;
                }
                if let Some(first) = seen_cues.insert(text.clone(), "ignore".to_owned()) {
                    c.error(
                        term.span(),
                        format!("ignored phrase {text:?} is already a cue for {first}"),
                    );
                    continue;
                }
                let cue = cues.len();
                cues.push(Cue {
                    code: 0,
                    literal_len: text.len(),
                    kind: CueKind::Ignore,
                    confidence: 0.0,
                    entry: format!("ignore:{text}"),
                });
                patterns.add(text, None, cue);
            }
        }

        if !c.errors.is_empty() {
            return Err(DictErrors(c.errors));
        }

        // Typographic apostrophes: every term with ' also matches with ’.
        let mut actor_patterns: Vec<String> = Vec::with_capacity(actor_terms.len());
        let mut pattern_terms: Vec<usize> = Vec::with_capacity(actor_terms.len());
        for (i, term) in actor_terms.iter().enumerate() {
            actor_patterns.push(term.text.clone());
            pattern_terms.push(i);
            if term.text.contains('\'') {
                actor_patterns.push(term.text.replace('\'', "\u{2019}"));
                pattern_terms.push(i);
            }
        }
        let actor_terms = pattern_terms
            .into_iter()
            .zip(&actor_patterns)
            .map(|(i, pattern)| Term {
                text: pattern.clone(),
                ..actor_terms[i].clone()
            })
            .collect();
        // Indexed by first word (crate::phrases): with 31,600 cue forms an Aho-Corasick
        // automaton's overlapping scan was a third of the classifier's time
        // (docs/benchmarks.md, change 15).
        let phrases = PhraseIndex::new(&[
            &actor_patterns,
            &patterns.firsts.texts,
            &patterns.seconds.texts,
        ]);

        let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
        for (_, text) in &sources.files {
            for b in text.bytes() {
                digest = (digest ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }

        Ok(Self {
            countries,
            people,
            orgs,
            codes,
            modifiers,
            actor_terms,
            cue_patterns: patterns.patterns,
            gapped: GappedCues::new(patterns.gapped),
            phrases,
            cues,
            digest: format!("{digest:016x}"),
        })
    }

    /// Every actor term: country names, adjectives and capitals, people's names, organisation
    /// names and role nouns (with typographic-apostrophe variants).
    pub fn actor_term_texts(&self) -> impl Iterator<Item = &str> {
        self.actor_terms.iter().map(|t| t.text.as_str())
    }

    pub fn code(&self, code: &str) -> Option<&CodeInfo> {
        self.codes.iter().find(|c| c.code == code)
    }

    /// Number of actor terms and cue terms, for start-up logs.
    pub fn sizes(&self) -> (usize, usize) {
        (self.actor_terms.len(), self.cues.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_dictionaries_are_valid() {
        let dict = Dictionary::compile(&Sources::builtin()).unwrap_or_else(|e| panic!("{e}"));
        assert!(dict.countries.len() >= 195, "{}", dict.countries.len());
        assert_eq!(dict.codes.iter().filter(|c| c.code.len() == 2).count(), 20);
        assert!(dict.people.len() >= 100);
    }

    fn with_file(index: usize, text: &str) -> Sources {
        let mut sources = Sources::builtin();
        sources.files[index] = (FILES[index].to_owned(), text.to_owned());
        sources
    }

    fn errors(sources: &Sources) -> String {
        Dictionary::compile(sources)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn errors_name_file_and_line() {
        let roles = "[[role]]\ncode = \"GOV\"\nterms = [\"president\"]\n\n[[role]]\ncode = \"XXX\"\nterms = [\"boss\"]\n";
        let e = errors(&with_file(3, roles));
        assert!(e.contains("roles.toml:6: unknown role code \"XXX\""), "{e}");

        let dup = "[[role]]\ncode = \"GOV\"\nterms = [\"president\",\n  \"Russia\"]\n";
        let e = errors(&with_file(3, dup));
        assert!(
            e.contains(
                "roles.toml:4: term \"Russia\" of role:GOV is already defined by country:RUS"
            ),
            "{e}"
        );

        let cue = "[[cue]]\ncode = \"999\"\nterms = [\"zap\"]\n";
        let e = errors(&with_file(4, cue));
        assert!(
            e.contains("cues.toml:2: cue code \"999\" is not in cameo.toml"),
            "{e}"
        );

        let syntax = "[[cue]\ncode = 1\n";
        let e = errors(&with_file(4, syntax));
        assert!(e.starts_with("cues.toml:1:"), "{e}");
    }

    #[test]
    fn person_dates_are_checked() {
        let people = "[[person]]\nname = \"A B\"\ncountry = \"RUS\"\n[[person.tenure]]\nrole = \"GOV\"\nfrom = \"2020-01-01\"\nuntil = \"2019-01-01\"\n";
        let e = errors(&with_file(1, people));
        assert!(
            e.contains("people.toml:7: A B: until is before from"),
            "{e}"
        );
    }
}
