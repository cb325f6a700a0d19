//! Importing PETRARCH (and TABARI 0.8) actor dictionaries, so that CAMEO users can bring the
//! dictionaries they maintain.
//!
//! The format: a record opens with a primary phrase (`JAMES_BYRNES_ [USAGOV]`, words joined by
//! `_` or blanks, an optional default code in brackets), `+` lines add synonyms, and lines
//! indented with a tab hold date restrictions: `[USAELI 18970101-450703]`, `[USAGOV >450703]`,
//! `[USAGOV <20010101]`, or a bare `[USAELI]` default. Dates are `YYYYMMDD` or `YYMMDD` (`00`-`29`
//! read as 20xx, `30`-`99` as 19xx). `#` and `;` start comments, and so does `<!-- ... -->`.
//!
//! Records with date restrictions become people (`[[person]]` with a tenure per restriction;
//! the default code becomes an open tenure from 1900-01-01 that the dated ones override), records
//! whose code names a country and a role become organisations (`[[org]]`), IGO and NGO codes
//! organisations of their own. Names the dictionaries already know are left out, and so are
//! records this coder cannot use (a bare country code, no code, a role it does not know); each
//! is reported with its line.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::dict::{Dictionary, ROLES};

/// One record of the input.
#[derive(Debug, Clone, PartialEq)]
struct Record {
    line: usize,
    names: Vec<String>,
    default: Option<String>,
    restrictions: Vec<Restriction>,
}

#[derive(Debug, Clone, PartialEq)]
struct Restriction {
    code: String,
    from: Option<String>,
    until: Option<String>,
}

/// A record or name left out, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub line: usize,
    pub name: String,
    pub reason: String,
}

/// The imported entries as TOML tables to append to `people.toml` and `organisations.toml`.
#[derive(Debug, Clone, Default)]
pub struct Import {
    pub people_toml: String,
    pub orgs_toml: String,
    pub people: usize,
    pub orgs: usize,
    pub skipped: Vec<Skipped>,
}

/// Reads a PETRARCH actor dictionary against the dictionaries in use. Errors are syntax
/// errors, each with its 1-based line.
pub fn import_actors(text: &str, known: &Dictionary) -> Result<Import, Vec<(usize, String)>> {
    let records = parse(text)?;
    let mut taken: HashSet<String> = known.actor_term_texts().map(str::to_lowercase).collect();
    let countries: HashSet<&str> = known.countries.iter().map(String::as_str).collect();
    let mut out = Import::default();
    for record in records {
        let primary = record.names[0].clone();
        let skip = |out: &mut Import, reason: &str| {
            out.skipped.push(Skipped {
                line: record.line,
                name: primary.clone(),
                reason: reason.to_owned(),
            });
        };
        // Names already known, or given twice, are left out of the record; a name is taken only
        // once its record is written.
        let mut names: Vec<String> = Vec::new();
        for name in &record.names {
            let key = name.to_lowercase();
            if !taken.contains(&key) && !names.iter().any(|n| n.to_lowercase() == key) {
                names.push(name.clone());
            } else {
                out.skipped.push(Skipped {
                    line: record.line,
                    name: name.clone(),
                    reason: "name already in the dictionaries".into(),
                });
            }
        }
        if names.is_empty() {
            continue;
        }
        if record.restrictions.is_empty() {
            let Some(code) = &record.default else {
                skip(&mut out, "no code");
                continue;
            };
            match org_row(code, &countries) {
                Ok(row) => {
                    taken.extend(names.iter().map(|n| n.to_lowercase()));
                    out.orgs += 1;
                    let _ = write!(out.orgs_toml, "\n[[org]]\n{row}names = {}\n", list(&names));
                }
                Err(reason) => skip(&mut out, &reason),
            }
            continue;
        }
        // A person: one country, a tenure per restriction with a known role.
        let mut tenures: Vec<(String, String, Option<String>)> = Vec::new();
        let mut country: Option<String> = None;
        let mut problem = None;
        let defaults = record.default.iter().map(|code| Restriction {
            code: code.clone(),
            from: None,
            until: None,
        });
        for r in defaults.chain(record.restrictions.iter().cloned()) {
            let Some((c, role)) = split_code(&r.code) else {
                problem = Some(format!("code {} is not country + role", r.code));
                break;
            };
            if !countries.contains(c) && !c.starts_with("IGO") {
                problem = Some(format!("unknown country {c}"));
                break;
            }
            if country.get_or_insert_with(|| c.to_owned()) != c {
                problem = Some("restrictions name different countries".into());
                break;
            }
            if !ROLES.contains(&role) {
                problem = Some(format!("unknown role {role}"));
                break;
            }
            tenures.push((
                role.to_owned(),
                r.from.unwrap_or_else(|| "1900-01-01".to_owned()),
                r.until,
            ));
        }
        let Some(country) = country.filter(|_| problem.is_none()) else {
            skip(&mut out, problem.as_deref().unwrap_or("no tenure"));
            continue;
        };
        taken.extend(names.iter().map(|n| n.to_lowercase()));
        out.people += 1;
        let _ = write!(
            out.people_toml,
            "\n[[person]]\nname = {}\naliases = {}\ncountry = {}\n",
            quote(&names[0]),
            list(&names[1..]),
            quote(&country)
        );
        for (role, from, until) in tenures {
            let _ = write!(
                out.people_toml,
                "[[person.tenure]]\nrole = {}\nfrom = {}\n",
                quote(&role),
                quote(&from)
            );
            if let Some(until) = until {
                let _ = writeln!(out.people_toml, "until = {}", quote(&until));
            }
        }
    }
    Ok(out)
}

/// `KORGOV` -> (`KOR`, `GOV`): a country or IGO prefix and the first role code after it.
fn split_code(code: &str) -> Option<(&str, &str)> {
    if !code.is_ascii() || code.len() < 6 {
        return None;
    }
    Some((&code[..3], &code[3..6]))
}

/// The `code`, `country` and `role` lines of an organisation, or why it cannot be one.
fn org_row(code: &str, countries: &HashSet<&str>) -> Result<String, String> {
    if !code.is_ascii() || !code.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(format!("code {code} is not a CAMEO code"));
    }
    if code.starts_with("IGO") || code.starts_with("NGO") {
        if !(4..=12).contains(&code.len()) {
            return Err(format!("code {code} is not 4 to 12 letters"));
        }
        return Ok(format!("code = {}\n", quote(code)));
    }
    if code.len() == 3 {
        return Err("a bare country code: country names belong in countries.toml".into());
    }
    let (country, role) = split_code(code).ok_or_else(|| format!("code {code} is too short"))?;
    if !countries.contains(country) {
        return Err(format!("unknown country {country}"));
    }
    if !ROLES.contains(&role) {
        return Err(format!("unknown role {role}"));
    }
    Ok(format!(
        "code = {}\ncountry = {}\nrole = {}\n",
        quote(&format!("{country}{role}")),
        quote(country),
        quote(role)
    ))
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// `JAMES_BYRNES_` -> `James Byrnes`. PETRARCH writes every name in capitals, so only a
/// one-word name of at most five letters without a vowel (`KCNA`, `NTF`) is kept as an
/// acronym, which the dictionaries match case-sensitively; `FATAH` becomes `Fatah`.
fn phrase_to_name(phrase: &str) -> String {
    let words: Vec<&str> = phrase
        .split(|c: char| c == '_' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    if let [word] = words.as_slice()
        && word.len() <= 5
        && word.chars().all(|c| c.is_ascii_uppercase())
        && !word
            .chars()
            .any(|c| matches!(c, 'A' | 'E' | 'I' | 'O' | 'U'))
    {
        return (*word).to_owned();
    }
    words
        .iter()
        .map(|w| {
            // Capitalise each part of a hyphenated or apostrophed word: AL-ASSAD -> Al-Assad.
            let mut out = String::with_capacity(w.len());
            let mut start = true;
            for c in w.chars() {
                if start {
                    out.extend(c.to_uppercase());
                } else {
                    out.extend(c.to_lowercase());
                }
                start = matches!(c, '-' | '\'');
            }
            out
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `YYYYMMDD` or `YYMMDD` -> `YYYY-MM-DD`.
fn date(text: &str) -> Option<String> {
    if !text.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match text.len() {
        8 => (text[..4].to_owned(), &text[4..]),
        6 => {
            let yy: u32 = text[..2].parse().ok()?;
            let century = if yy < 30 { 2000 } else { 1900 };
            ((century + yy).to_string(), &text[2..])
        }
        _ => return None,
    };
    let (month, day) = (&rest[..2], &rest[2..]);
    let month = time::Month::try_from(month.parse::<u8>().ok()?).ok()?;
    let date = time::Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()?;
    Some(date.to_string())
}

/// `[CODE]`, `[CODE <date]`, `[CODE >date]`, `[CODE date-date]`.
fn restriction(inner: &str) -> Result<Restriction, String> {
    let mut parts = inner.split_whitespace();
    let code = parts.next().ok_or("empty brackets")?.to_owned();
    let when = parts.next();
    if parts.next().is_some() {
        return Err(format!(
            "[{inner}]: one code and at most one date restriction"
        ));
    }
    let bad = || format!("[{inner}]: a date is YYYYMMDD or YYMMDD, a real day");
    let (from, until) = match when {
        None => (None, None),
        Some(w) if w.starts_with('<') => (None, Some(date(&w[1..]).ok_or_else(bad)?)),
        Some(w) if w.starts_with('>') => (Some(date(&w[1..]).ok_or_else(bad)?), None),
        Some(w) => {
            let (a, b) = w.split_once('-').ok_or_else(bad)?;
            let (from, until) = (date(a).ok_or_else(bad)?, date(b).ok_or_else(bad)?);
            // ISO dates compare as strings.
            if until < from {
                return Err(format!("[{inner}]: the restriction ends before it starts"));
            }
            (Some(from), Some(until))
        }
    };
    Ok(Restriction { code, from, until })
}

/// Strips `#` and `;` comments (and `<!-- -->` ones, which may span lines: `in_comment`).
fn strip_comments(line: &str, in_comment: &mut bool) -> String {
    let mut out = String::new();
    let mut rest = line;
    loop {
        if *in_comment {
            match rest.find("-->") {
                Some(p) => {
                    rest = &rest[p + 3..];
                    *in_comment = false;
                }
                None => break,
            }
        }
        match rest.find("<!--") {
            Some(p) => {
                out.push_str(&rest[..p]);
                rest = &rest[p + 4..];
                *in_comment = true;
            }
            None => {
                out.push_str(rest);
                break;
            }
        }
    }
    let end = out.find(['#', ';']).unwrap_or(out.len());
    out.truncate(end);
    out
}

fn parse(text: &str) -> Result<Vec<Record>, Vec<(usize, String)>> {
    let mut records: Vec<Record> = Vec::new();
    let mut errors = Vec::new();
    let mut in_comment = false;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let indented = raw.starts_with(['\t', ' ']);
        let line = strip_comments(raw, &mut in_comment);
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        // The bracketed code, if any, and the phrase before it.
        let (phrase, code) = match trimmed.find('[') {
            Some(open) => {
                let Some(close) = trimmed[open..].find(']') else {
                    errors.push((line_no, format!("unclosed bracket in {trimmed:?}")));
                    continue;
                };
                let inner = &trimmed[open + 1..open + close];
                (trimmed[..open].trim(), Some(inner))
            }
            None => (trimmed, None),
        };
        if indented && phrase.is_empty() {
            // A date restriction of the current record.
            let Some(record) = records.last_mut() else {
                errors.push((line_no, "a date restriction before any record".into()));
                continue;
            };
            match restriction(code.unwrap_or_default()) {
                Ok(r) => record.restrictions.push(r),
                Err(e) => errors.push((line_no, e)),
            }
            continue;
        }
        if let Some(synonym) = phrase.strip_prefix('+') {
            let Some(record) = records.last_mut() else {
                errors.push((line_no, "a synonym before any record".into()));
                continue;
            };
            let name = phrase_to_name(synonym);
            if !name.is_empty() {
                record.names.push(name);
            }
            continue;
        }
        let name = phrase_to_name(phrase);
        if name.is_empty() {
            errors.push((line_no, format!("no phrase in {trimmed:?}")));
            continue;
        }
        let default = match code.map(restriction) {
            None => None,
            Some(Ok(r)) if r.from.is_none() && r.until.is_none() => Some(r.code),
            Some(Ok(_)) => {
                errors.push((
                    line_no,
                    "date restrictions go on their own indented lines".into(),
                ));
                continue;
            }
            Some(Err(e)) => {
                errors.push((line_no, e));
                continue;
            }
        };
        records.push(Record {
            line: line_no,
            names: vec![name],
            default,
            restrictions: Vec::new(),
        });
    }
    if errors.is_empty() {
        Ok(records)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# a PETRARCH actor file\n\
        <!-- written for this test -->\n\
        JOHN_EXAMPLE_SMITH_  ; a made-up official\n\
        +J._EXAMPLE_SMITH_\n\
        \t[GBRELI 19970101-050703]\n\
        \t[GBRGOV >050703]\n\
        ANNA_VAN_DER_TESTEN_ [NLDELI]\n\
        \t[NLDGOV 180101-220630]\n\
        NORTHERN_TEST_FRONT_ [COLREB] # an armed group\n\
        +NTF_\n\
        WORLD_TEST_ORGANIZATION_ [IGOWTO]\n\
        FREEDONIA_ [FRE]\n\
        VLADIMIR_PUTIN_ [RUSGOV]\n\
        \t[RUSGOV 20000507-]\n";

    #[test]
    fn dates_comments_and_acronyms() {
        assert_eq!(date("450703").as_deref(), Some("1945-07-03"));
        assert_eq!(date("070723").as_deref(), Some("2007-07-23"));
        assert_eq!(date("19990231"), None, "no 31 February");
        assert!(
            restriction("USAGOV 20050101-20010101").is_err(),
            "ends before it starts"
        );
        let mut in_comment = false;
        assert_eq!(strip_comments("# old entries <!--", &mut in_comment), "");
        assert!(in_comment);
        assert_eq!(
            strip_comments("--> KIM_ ; note", &mut in_comment).trim(),
            "KIM_"
        );
        assert_eq!(phrase_to_name("FATAH_"), "Fatah");
        assert_eq!(phrase_to_name("KCNA"), "Kcna", "matched in any case");
        assert_eq!(phrase_to_name("NTF"), "NTF");
        assert_eq!(phrase_to_name("AL-ASSAD_"), "Al-Assad");
    }

    #[test]
    fn a_skipped_record_leaves_its_names_free() {
        let text = "JOHN_DOE_EXAMPLE_ [XXXGOV]\nJOHN_DOE_EXAMPLE_\n\t[USAGOV 20010101-20050101]\n";
        let import = import_actors(text, &Dictionary::builtin()).expect("parses");
        assert_eq!(import.people, 1, "{:?}", import.skipped);
    }

    #[test]
    fn syntax_errors_carry_their_line() {
        let errors = parse(SAMPLE).expect_err("the last restriction has no end date");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, 14);
        let errors = parse("\t[USAGOV]\n").expect_err("restriction before a record");
        assert_eq!(errors[0].0, 1);
    }

    #[test]
    fn people_organisations_and_skips() {
        let text = SAMPLE.replace("20000507-]", "20000507-20080507]");
        let known = Dictionary::builtin();
        let import = import_actors(&text, &known).expect("parses");
        assert_eq!(import.people, 2, "{}", import.people_toml);
        assert_eq!(import.orgs, 2, "{}", import.orgs_toml);
        assert!(import.people_toml.contains("name = \"John Example Smith\""));
        assert!(
            import
                .people_toml
                .contains("aliases = [\"J. Example Smith\"]")
        );
        assert!(
            import
                .people_toml
                .contains("from = \"1997-01-01\"\nuntil = \"2005-07-03\"")
        );
        assert!(
            import
                .people_toml
                .contains("role = \"GOV\"\nfrom = \"2005-07-03\"\n")
        );
        // The default code is an open tenure the dated ones override.
        assert!(
            import
                .people_toml
                .contains("role = \"ELI\"\nfrom = \"1900-01-01\"\n")
        );
        assert!(
            import
                .people_toml
                .contains("from = \"2018-01-01\"\nuntil = \"2022-06-30\"")
        );
        assert!(import.orgs_toml.contains("code = \"COLREB\"\ncountry = \"COL\"\nrole = \"REB\"\nnames = [\"Northern Test Front\", \"NTF\"]"));
        assert!(
            import
                .orgs_toml
                .contains("code = \"IGOWTO\"\nnames = [\"World Test Organization\"]")
        );
        let reasons: Vec<(&str, &str)> = import
            .skipped
            .iter()
            .map(|s| (s.name.as_str(), s.reason.as_str()))
            .collect();
        assert!(reasons.contains(&(
            "Freedonia",
            "a bare country code: country names belong in countries.toml"
        )));
        assert!(reasons.contains(&("Vladimir Putin", "name already in the dictionaries")));
    }

    #[test]
    fn imported_entries_load_as_dictionaries() {
        let text = SAMPLE.replace("20000507-]", "20000507-20080507]");
        let import = import_actors(&text, &Dictionary::builtin()).expect("parses");
        let mut sources = crate::Sources::builtin();
        for (name, text) in &mut sources.files {
            if name.ends_with("people.toml") {
                text.push_str(&import.people_toml);
            }
            if name.ends_with("organisations.toml") {
                text.push_str(&import.orgs_toml);
            }
        }
        let dict = Dictionary::compile(&sources).expect("the imported entries are valid");
        let classifier = crate::Classifier::new(dict);
        let date = time::macros::date!(2010 - 01 - 01);
        let coding = classifier.code("John Example Smith met NTF leaders.", Some(date));
        let codes: Vec<&str> = coding.actors.iter().map(|a| a.code.as_str()).collect();
        assert_eq!(codes, ["GBRGOV", "COLREB"]);
    }
}
