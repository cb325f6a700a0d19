//! The pure core: coding a sentence into actors and events. No I/O.
//!
//! 1. One overlapping Aho-Corasick pass finds every actor term; whole-word matches are kept
//!    and overlaps resolved longest-first.
//! 2. Mentions are combined into CAMEO codes: country + role ("North Korean troops" ->
//!    PRKMIL, "South Korea's presidential office" -> KORGOV, "the president of Russia" ->
//!    RUSGOV); people are coded by the tenure that covers the article's date; a role noun
//!    next to a person ("spokesperson Yoshimasa Hayashi") is absorbed by the person.
//! 3. Reporters ("according to Yonhap", "KCNA reported") are set apart from the actors.
//! 4. A second pass finds cue phrases (with "a ... b" gaps); each selected cue is an event
//!    with its CAMEO code, modality from the words before it, and source and target from
//!    the word order around it ("by X" in passives).

use newswire_shared::{Actor, CATEGORY_NONE, CodedEvent, Modality, RawEvent, Span, TaggedEvent};
use time::Date;

use crate::dict::{ActorRef, Dictionary, ROLES};

/// The version of the coding logic; the dictionaries' digest is appended at run time.
pub const CODER_VERSION: &str = concat!("newswire-classifier/", env!("CARGO_PKG_VERSION"));

/// The result of coding one sentence.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Coding {
    /// Distinct actors, in order of first mention.
    pub actors: Vec<Actor>,
    pub events: Vec<CodedEvent>,
    pub reporter: Option<Actor>,
}

impl Coding {
    /// The primary category: the first asserted event that is not a bare statement, else the
    /// first asserted event, else the first event; `none` without events.
    pub fn primary_category(&self) -> &str {
        let asserted = |e: &&CodedEvent| e.modality == Modality::Asserted;
        self.events
            .iter()
            .filter(asserted)
            .find(|e| e.root != "01")
            .or_else(|| self.events.iter().find(asserted))
            .or_else(|| self.events.first())
            .map_or(CATEGORY_NONE, |e| e.category.as_str())
    }
}

/// A classifier: compiled dictionaries and the version string it stamps on events.
#[derive(Debug)]
pub struct Classifier {
    dict: Dictionary,
    version: String,
}

impl Classifier {
    pub fn new(dict: Dictionary) -> Self {
        let version = format!("{CODER_VERSION}+dict.{}", &dict.digest[..8]);
        Self { dict, version }
    }

    pub fn builtin() -> Self {
        Self::new(Dictionary::builtin())
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn dictionary(&self) -> &Dictionary {
        &self.dict
    }

    /// Tags a raw event.
    pub fn classify(&self, raw: &RawEvent) -> TaggedEvent {
        let date = raw.article.published_at.map(|t| t.date());
        let coding = self.code(&raw.text, date);
        let mut tagged = TaggedEvent::from_raw(raw, &self.version);
        tagged.category = coding.primary_category().to_owned();
        tagged.actors = coding.actors;
        tagged.events = coding.events;
        tagged.reporter = coding.reporter;
        tagged
    }

    /// Codes one sentence; `date` picks the office holders (latest tenure when unknown).
    pub fn code(&self, text: &str, date: Option<Date>) -> Coding {
        let mentions = self.find_actor_mentions(text);
        let (mut actors, reporter) = self.combine(text, &mentions, date);
        let mut events = self.find_events(text, &actors);
        // Statement verbs next to a substantive event are attribution ("X said Y attacked").
        if events.iter().any(|e| e.root != "01") {
            events.retain(|e| e.code != "010");
        }
        // Distinct actors by code, first mention kept.
        let mut seen = std::collections::HashSet::new();
        actors.retain(|a| seen.insert(a.code.clone()));
        Coding {
            actors,
            events,
            reporter,
        }
    }

    fn find_actor_mentions(&self, text: &str) -> Vec<Mention> {
        let mut found: Vec<Mention> = self
            .dict
            .actor_matcher
            .find_overlapping_iter(text)
            .filter_map(|m| {
                let term = &self.dict.actor_terms[m.pattern().as_usize()];
                let span = Span::new(m.start(), m.end());
                if !on_word_boundaries(text, span) {
                    return None;
                }
                if term.case_sensitive && text[m.start()..m.end()] != term.text {
                    return None;
                }
                Some(Mention {
                    span,
                    target: term.target,
                    term: m.pattern().as_usize(),
                })
            })
            .collect();
        longest_non_overlapping(&mut found, |m| m.span);
        found
    }

    fn combine(
        &self,
        text: &str,
        mentions: &[Mention],
        date: Option<Date>,
    ) -> (Vec<Actor>, Option<Actor>) {
        let mut actors = Vec::new();
        let mut reporter = None;
        let mut i = 0;
        while i < mentions.len() {
            let m = &mentions[i];
            let next = mentions.get(i + 1);
            let entry = |m: &Mention| self.dict.actor_terms[m.term].entry.clone();
            let (actor, used) = match m.target {
                ActorRef::Country(c) | ActorRef::Capital(c) => {
                    // Country followed by a chain of role nouns: country + first role.
                    let mut end = i;
                    while let Some(n) = mentions.get(end + 1) {
                        let ActorRef::Role(_) = n.target else { break };
                        let gap = &text[mentions[end].span.end..n.span.start];
                        let linked = if end == i {
                            self.is_country_role_gap(gap)
                        } else {
                            gap.trim().is_empty()
                        };
                        if !linked {
                            break;
                        }
                        end += 1;
                    }
                    let country = &self.dict.countries[c];
                    if end > i {
                        let ActorRef::Role(r) = mentions[i + 1].target else {
                            unreachable!("chain holds roles only")
                        };
                        let span = Span::new(m.span.start, mentions[end].span.end);
                        (
                            self.actor(
                                text,
                                span,
                                country,
                                Some(ROLES[r]),
                                format!("{}+{}", entry(m), entry(&mentions[i + 1])),
                            ),
                            end + 1 - i,
                        )
                    } else {
                        let role = matches!(m.target, ActorRef::Capital(_)).then_some("GOV");
                        (self.actor(text, m.span, country, role, entry(m)), 1)
                    }
                }
                ActorRef::Role(r) => {
                    match next {
                        // "the president of Russia"
                        Some(n)
                            if matches!(n.target, ActorRef::Country(_))
                                && is_of_gap(&text[m.span.end..n.span.start]) =>
                        {
                            let (ActorRef::Country(c) | ActorRef::Capital(c)) = n.target else {
                                unreachable!("matched a country")
                            };
                            let span = Span::new(m.span.start, n.span.end);
                            (
                                self.actor(
                                    text,
                                    span,
                                    &self.dict.countries[c],
                                    Some(ROLES[r]),
                                    format!("{}+{}", entry(n), entry(m)),
                                ),
                                2,
                            )
                        }
                        // A role noun right before a person or organisation names them.
                        Some(n)
                            if matches!(n.target, ActorRef::Person(_) | ActorRef::Org(_))
                                && text[m.span.end..n.span.start].trim().is_empty() =>
                        {
                            i += 1;
                            continue;
                        }
                        // A role noun with no country codes nobody.
                        _ => {
                            i += 1;
                            continue;
                        }
                    }
                }
                ActorRef::Person(p) => {
                    let person = &self.dict.people[p];
                    let role = person_role(person, date);
                    let (country, role) =
                        match self.dict.orgs.iter().find(|o| o.code == person.country) {
                            // Officials of international bodies carry the body's code alone.
                            Some(org) => (org.code.as_str(), None),
                            None => (person.country.as_str(), Some(role)),
                        };
                    (self.actor(text, m.span, country, role, entry(m)), 1)
                }
                ActorRef::Org(o) => {
                    let org = &self.dict.orgs[o];
                    let actor = Actor {
                        code: org.code.clone(),
                        country: Some(org.country.clone().unwrap_or_else(|| org.code.clone())),
                        role: org.role.clone(),
                        mention: text[m.span.start..m.span.end].to_owned(),
                        span: m.span,
                        entry: entry(m),
                    };
                    (actor, 1)
                }
            };
            i += used;
            if reporter.is_none() && is_reporter(text, &actor) {
                reporter = Some(actor);
            } else {
                actors.push(actor);
            }
        }
        (actors, reporter)
    }

    fn actor(
        &self,
        text: &str,
        span: Span,
        country: &str,
        role: Option<&str>,
        entry: String,
    ) -> Actor {
        Actor {
            code: format!("{country}{}", role.unwrap_or("")),
            country: Some(country.to_owned()),
            role: role.map(str::to_owned),
            mention: text[span.start..span.end].to_owned(),
            span,
            entry,
        }
    }

    /// What may stand between a country and its role noun: white space, a possessive, a
    /// hyphen, and modifier words ("North Korean elite troops").
    fn is_country_role_gap(&self, gap: &str) -> bool {
        let gap = gap
            .strip_prefix("'s")
            .or_else(|| gap.strip_prefix("\u{2019}s"))
            .or_else(|| gap.strip_prefix('\''))
            .or_else(|| gap.strip_prefix('\u{2019}'))
            .unwrap_or(gap);
        if gap.trim().is_empty() {
            return !gap.contains('\n')
                && (gap.is_empty() || gap.starts_with(char::is_whitespace) || gap == "-");
        }
        if gap == "-" {
            return true;
        }
        let words: Vec<&str> = gap.split_whitespace().collect();
        gap.starts_with(char::is_whitespace)
            && words.len() <= 2
            && words
                .iter()
                .all(|w| self.dict.modifiers.contains(&w.to_lowercase()))
    }

    fn find_events(&self, text: &str, actors: &[Actor]) -> Vec<CodedEvent> {
        // Every whole-word match of every cue part.
        let mut part_matches: Vec<(usize, usize, Span)> = Vec::new(); // (cue, part, span)
        for m in self.dict.cue_matcher.find_overlapping_iter(text) {
            let span = Span::new(m.start(), m.end());
            if !on_word_boundaries(text, span) {
                continue;
            }
            for &(cue, part) in &self.dict.cue_patterns[m.pattern().as_usize()].uses {
                part_matches.push((cue, part, span));
            }
        }
        let mut candidates: Vec<(usize, Span)> = Vec::new();
        for &(cue, part, span) in &part_matches {
            if part != 0 {
                continue;
            }
            if self.dict.cues[cue].parts == 1 {
                candidates.push((cue, span));
                continue;
            }
            // "a ... b": the first `b` after `a` within five words, in the same clause.
            let second = part_matches
                .iter()
                .filter(|&&(c, p, s)| c == cue && p == 1 && s.start > span.end)
                .map(|&(_, _, s)| s)
                .min_by_key(|s| s.start);
            if let Some(second) = second {
                let gap = &text[span.end..second.start];
                if gap.split_whitespace().count() <= 5 && !gap.contains(['.', ';', ':', '!', '?']) {
                    candidates.push((cue, Span::new(span.start, second.end)));
                }
            }
        }
        longest_non_overlapping(&mut candidates, |c| c.1);

        candidates
            .into_iter()
            .map(|(cue_index, span)| {
                let cue = &self.dict.cues[cue_index];
                let info = &self.dict.codes[cue.code];
                let modality = modality(text, span);
                let (source, target) = source_and_target(text, span, actors);
                let mut confidence = cue.confidence;
                if source.is_none() {
                    confidence *= 0.8;
                }
                if target.is_none() {
                    confidence *= 0.9;
                }
                CodedEvent {
                    code: info.code.clone(),
                    root: info.root.clone(),
                    name: info.name.clone(),
                    category: info.category.clone(),
                    quad_class: info.quad_class,
                    goldstein: info.goldstein,
                    plover: info.plover.clone(),
                    cue: text[span.start..span.end].to_owned(),
                    cue_span: span,
                    source,
                    target,
                    modality,
                    confidence: (confidence * 100.0).round() / 100.0,
                }
            })
            .collect()
    }

    /// The dictionary entry a cue came from, for `--explain`.
    pub fn cue_entry(&self, event: &CodedEvent) -> Option<&str> {
        let lower = event.cue.to_lowercase();
        self.dict
            .cues
            .iter()
            .find(|c| {
                self.dict.codes[c.code].code == event.code
                    && c.entry
                        .rsplit(':')
                        .next()
                        .is_some_and(|t| t == lower || t.contains("..."))
            })
            .map(|c| c.entry.as_str())
    }
}

#[derive(Debug, Clone, Copy)]
struct Mention {
    span: Span,
    target: ActorRef,
    term: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

fn on_word_boundaries(text: &str, span: Span) -> bool {
    let before = text[..span.start].chars().next_back();
    let after = text[span.end..].chars().next();
    let first = text[span.start..].chars().next();
    let last = text[..span.end].chars().next_back();
    let open_before = !(before.is_some_and(is_word_char) && first.is_some_and(is_word_char));
    let open_after = !(after.is_some_and(is_word_char) && last.is_some_and(is_word_char));
    open_before && open_after
}

/// Keeps the longest of overlapping items (earlier first on equal length), in text order.
fn longest_non_overlapping<T>(items: &mut Vec<T>, span: impl Fn(&T) -> Span) {
    items.sort_by(|a, b| {
        let (sa, sb) = (span(a), span(b));
        sb.len().cmp(&sa.len()).then(sa.start.cmp(&sb.start))
    });
    let mut kept: Vec<T> = Vec::with_capacity(items.len());
    for item in items.drain(..) {
        let s = span(&item);
        if kept.iter().all(|k| {
            let t = span(k);
            s.end <= t.start || s.start >= t.end
        }) {
            kept.push(item);
        }
    }
    kept.sort_by_key(|k| span(k).start);
    *items = kept;
}

fn is_of_gap(gap: &str) -> bool {
    matches!(gap.to_lowercase().as_str(), " of " | " of the ")
}

/// The role a person held on `date`; their latest role when the date is unknown, and
/// elite (ELI) when they held no office then.
fn person_role(person: &crate::dict::Person, date: Option<Date>) -> &str {
    match date {
        None => person.tenures.last().map_or("ELI", |t| t.role.as_str()),
        Some(d) => person
            .tenures
            .iter()
            .rev()
            .find(|t| t.from <= d && t.until.is_none_or(|u| d <= u))
            .map_or("ELI", |t| t.role.as_str()),
    }
}

/// "according to X", "X reported", "X said, citing": the outlet that reports the sentence.
fn is_reporter(text: &str, actor: &Actor) -> bool {
    let before = text[..actor.span.start].trim_end();
    if [
        "according to",
        "according to the",
        "reported by",
        "cited by",
    ]
    .iter()
    .any(|phrase| ends_with_ignore_case(before, phrase))
    {
        return true;
    }
    if actor.role.as_deref() == Some("MED") {
        let after = text[actor.span.end..].trim_start();
        return ["reported", "said", "says", "reports", "quoted", "cited"]
            .iter()
            .any(|w| starts_with_ignore_case(after, w));
    }
    false
}

/// `text` starts with the lower-case ASCII `prefix`, in any case; no allocation (this runs for
/// every actor and cue of every sentence).
fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// `text` ends with the lower-case ASCII `suffix`, in any case.
fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len()
        && text.as_bytes()[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

const NEGATION: &[&str] = &[
    "not",
    "never",
    "no",
    "refrained",
    "refrain",
    "refrains",
    "refused",
    "refuses",
    "declined",
    "denied",
    "denies",
    "without",
    "failed",
    "neither",
    "nor",
    "halted",
    "stopped",
];
const HYPOTHETICAL: &[&str] = &[
    "if",
    "unless",
    "could",
    "might",
    "may",
    "should",
    "whether",
    "possibility",
    "possible",
    "likelihood",
    "hope",
    "hopes",
    "hoped",
    "consider",
    "considering",
    "considers",
    "consideration",
    "potential",
    "potentially",
];
const FUTURE: &[&str] = &[
    "will", "would", "shall", "expected", "plans", "planned", "planning", "intends", "intend",
    "going", "set", "future", "soon", "upcoming", "next",
];

/// The modality of the event whose cue sits at `cue`: from the words of its clause before it
/// (at most eight) and the cue's own words.
fn modality(text: &str, cue: Span) -> Modality {
    let before = &text[..cue.start];
    let clause_start = before
        .char_indices()
        .rev()
        .find(|(_, c)| matches!(c, ',' | ';' | ':' | '(' | '—'))
        .map_or(0, |(p, c)| p + c.len_utf8());
    let clause = &before[clause_start..];
    // The last eight words of the clause and the cue's words, compared without allocating.
    let window = || {
        clause
            .rsplit(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '\u{2019}'))
            .filter(|w| !w.is_empty())
            .take(8)
            .chain(text[cue.start..cue.end].split_whitespace())
    };
    let has = |list: &[&str]| {
        window().any(|w| {
            list.iter().any(|entry| w.eq_ignore_ascii_case(entry))
                || (std::ptr::eq(list, NEGATION)
                    && (ends_with_ignore_case(w, "n't") || ends_with_ignore_case(w, "n\u{2019}t")))
        })
    };
    if has(NEGATION) {
        Modality::Negated
    } else if has(HYPOTHETICAL) {
        Modality::Hypothetical
    } else if has(FUTURE) {
        Modality::Future
    } else {
        Modality::Asserted
    }
}

const PREPOSITIONS: &[&str] = &[
    "between", "with", "of", "to", "against", "from", "for", "on", "in", "into", "at", "toward",
    "towards", "about", "over", "among", "amid", "near", "across", "along", "like", "than",
];

/// The word before `at`, lower-cased, skipping articles.
fn word_before(text: &str, at: usize) -> String {
    text[..at]
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .rev()
        .find(|w| !w.is_empty() && !matches!(w.to_lowercase().as_str(), "the" | "a" | "an"))
        .map(str::to_lowercase)
        .unwrap_or_default()
}

/// Whether `actor` is the object of a preposition: "with Russia", "between Moscow and Pyongyang".
fn in_prepositional_phrase(text: &str, actors: &[Actor], actor: &Actor) -> bool {
    let word = word_before(text, actor.span.start);
    if PREPOSITIONS.contains(&word.as_str()) {
        return true;
    }
    if word == "and" || word == "or" {
        // Coordinated with an earlier actor: in a phrase if that one is.
        return actors
            .iter()
            .filter(|a| a.span.end <= actor.span.start)
            .max_by_key(|a| a.span.end)
            .is_some_and(|prev| {
                text[prev.span.end..actor.span.start]
                    .split_whitespace()
                    .count()
                    <= 2
                    && in_prepositional_phrase(text, actors, prev)
            });
    }
    false
}

/// Source: "by X" right after the cue (passive), else the nearest actor before the cue.
/// Target: the nearest actor after the cue that is not the source (in a passive, the nearest
/// before the cue).
fn source_and_target(text: &str, cue: Span, actors: &[Actor]) -> (Option<String>, Option<String>) {
    let after_cue = &text[cue.end..];
    let passive_by = starts_with_ignore_case(after_cue.trim_start(), "by ")
        .then(|| {
            actors
                .iter()
                .filter(|a| a.span.start >= cue.end)
                .min_by_key(|a| a.span.start)
                .filter(|a| text[cue.end..a.span.start].split_whitespace().count() <= 2)
        })
        .flatten();
    // The subject: the nearest actor before the cue that is not the object of a preposition
    // ("the pact between North Korea and Russia"), else the nearest one.
    let preceding: Vec<&Actor> = actors.iter().filter(|a| a.span.end <= cue.start).collect();
    let before = preceding
        .iter()
        .rev()
        .find(|a| !in_prepositional_phrase(text, actors, a))
        .or_else(|| preceding.last())
        .copied();
    // "collaboration between Moscow and Pyongyang": the pair after "between" are the parties.
    let between = starts_with_ignore_case(after_cue.trim_start(), "between ")
        .then(|| {
            let mut after: Vec<&Actor> =
                actors.iter().filter(|a| a.span.start >= cue.end).collect();
            after.sort_by_key(|a| a.span.start);
            match after.as_slice() {
                [a, b, ..] if word_before(text, b.span.start) == "and" => Some((*a, *b)),
                _ => None,
            }
        })
        .flatten();
    let (source, target) = match (passive_by, between) {
        (_, Some((a, b))) => (Some(a), Some(b)),
        (Some(by), None) => (Some(by), before),
        (None, None) => {
            let source = before;
            // Actors inside a gapped cue ("summon the Russian ambassador") are its objects.
            let target = actors
                .iter()
                .filter(|a| a.span.start >= cue.start)
                .filter(|a| source.is_none_or(|s| s.code != a.code))
                .min_by_key(|a| a.span.start);
            (source, target)
        }
    };
    let target = target.filter(|t| source.is_none_or(|s| s.code != t.code));
    (
        source.map(|a| a.code.clone()),
        target.map(|a| a.code.clone()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::LazyLock;

    static CLASSIFIER: LazyLock<Classifier> = LazyLock::new(Classifier::builtin);

    fn code(text: &str) -> Coding {
        CLASSIFIER.code(text, None)
    }

    fn codes(c: &Coding) -> Vec<&str> {
        c.actors.iter().map(|a| a.code.as_str()).collect()
    }

    fn roots(c: &Coding) -> Vec<&str> {
        c.events.iter().map(|e| e.root.as_str()).collect()
    }

    #[test]
    fn country_and_role_combine() {
        assert_eq!(
            codes(&code("North Korean troops crossed the border.")),
            ["PRKMIL"]
        );
        assert_eq!(
            codes(&code("South Korea’s presidential office announced it.")),
            ["KORGOV"]
        );
        assert_eq!(
            codes(&code("They met the president of Russia.")),
            ["RUSGOV"]
        );
        assert_eq!(
            codes(&code("Seoul summoned the Russian ambassador.")),
            ["KORGOV", "RUSGOV"]
        );
        assert_eq!(
            codes(&code("The US national security council spokesman spoke.")),
            ["USAGOV"]
        );
        assert_eq!(
            codes(&code("North Korean elite troops advanced.")),
            ["PRKMIL"]
        );
    }

    #[test]
    fn people_are_coded_by_the_article_date() {
        let d = |s: &str| {
            Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
        };
        let kirby = "John Kirby spoke to reporters.";
        assert_eq!(codes(&CLASSIFIER.code(kirby, d("2024-06-21"))), ["USAGOV"]);
        assert_eq!(codes(&CLASSIFIER.code(kirby, d("2010-01-01"))), ["USAELI"]);
        assert_eq!(
            codes(&code(
                "Government spokesperson Yoshimasa Hayashi denounced the deal."
            )),
            ["JPNGOV"]
        );
    }

    #[test]
    fn acronyms_are_case_sensitive_and_words_whole() {
        assert!(codes(&code("Let us discuss it.")).is_empty());
        assert_eq!(codes(&code("The US warned.")), ["USA"]);
        assert!(codes(&code("The Russianists met.")).is_empty());
    }

    #[test]
    fn longest_cue_wins_and_gapped_cues_match() {
        let c = code("South Korean forces fired warning shots.");
        assert_eq!(c.events.len(), 1);
        assert_eq!(c.events[0].code, "150");
        let c = code("Seoul will summon the Russian ambassador to lodge a formal protest.");
        let got: Vec<&str> = c.events.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(got, ["114", "114"]);
        assert_eq!(c.events[0].cue, "summon the Russian ambassador");
    }

    #[test]
    fn modality_is_marked() {
        let m = |t: &str| code(t).events.first().map(|e| e.modality);
        assert_eq!(
            m("Seoul has refrained from supplying lethal weapons."),
            Some(Modality::Negated)
        );
        assert_eq!(m("Moscow did not attack."), Some(Modality::Negated));
        assert_eq!(
            m("Moscow would retaliate if Seoul provides weapons to Kyiv."),
            Some(Modality::Hypothetical)
        );
        assert_eq!(m("Moscow will impose sanctions."), Some(Modality::Future));
        assert_eq!(m("Moscow imposed sanctions."), Some(Modality::Asserted));
    }

    #[test]
    fn source_and_target_follow_word_order_and_passives() {
        let c = code("Russia warned South Korea.");
        assert_eq!(c.events[0].source.as_deref(), Some("RUS"));
        assert_eq!(c.events[0].target.as_deref(), Some("KOR"));
        let c = code("Ukraine was attacked by Russian forces.");
        assert_eq!(c.events[0].source.as_deref(), Some("RUSMIL"));
        assert_eq!(c.events[0].target.as_deref(), Some("UKR"));
    }

    #[test]
    fn reporters_are_kept_apart() {
        let c = code("Seoul will protest, according to Yonhap news agency.");
        assert_eq!(c.reporter.as_ref().map(|a| a.code.as_str()), Some("KORMED"));
        assert_eq!(codes(&c), ["KORGOV"]);
    }

    #[test]
    fn sentences_without_events_have_category_none() {
        let c = code("The weather was mild.");
        assert!(c.events.is_empty() && c.actors.is_empty());
        assert_eq!(c.primary_category(), "none");
        assert_eq!(roots(&code("Russia invaded Ukraine.")), ["19"]);
    }
}

/// The acceptance sentences of the bundled sample article, coded without NATS.
#[cfg(test)]
mod sample_article {
    use super::*;

    const SAMPLE: &str = include_str!("../../../fixtures/putin-warns-seoul.txt");

    fn sentence(start: &str) -> Coding {
        let at = SAMPLE
            .find(start)
            .unwrap_or_else(|| panic!("{start:?} not in the sample"));
        let rest = &SAMPLE[at..];
        // The sentence ends at the first ". " / ".\n" / end of text after its start.
        let end = rest
            .match_indices(['.', '”'])
            .map(|(i, m)| i + m.len())
            .find(|&i| rest[i..].starts_with([' ', '\n']) || i == rest.len())
            .unwrap_or(rest.len());
        let coding = Classifier::builtin().code(&rest[..end], None);
        eprintln!(
            "{}\n  actors {:?}\n  events {:?}\n  reporter {:?}",
            &rest[..end],
            coding.actors.iter().map(|a| &a.code).collect::<Vec<_>>(),
            coding
                .events
                .iter()
                .map(|e| format!(
                    "{} {} {:?} {:?}->{:?}",
                    e.code, e.cue, e.modality, e.source, e.target
                ))
                .collect::<Vec<_>>(),
            coding.reporter.as_ref().map(|r| &r.code)
        );
        coding
    }

    fn countries(c: &Coding) -> Vec<&str> {
        c.actors
            .iter()
            .filter_map(|a| a.country.as_deref())
            .collect()
    }

    fn has_root(c: &Coding, roots: &[&str]) -> bool {
        c.events.iter().any(|e| roots.contains(&e.root.as_str()))
    }

    #[test]
    fn putin_warns_south_korea() {
        let c = sentence("Vladimir Putin, the president of Russia");
        assert!(countries(&c).contains(&"RUS") && countries(&c).contains(&"KOR"));
        assert!(has_root(&c, &["13"]));
        assert_eq!(c.primary_category(), "threaten");
        let threat = c.events.iter().find(|e| e.root == "13").expect("threat");
        assert_eq!(threat.source.as_deref(), Some("RUSGOV"));
        assert_eq!(threat.target.as_deref(), Some("KOR"));
    }

    #[test]
    fn defence_agreement_with_kim_jong_un() {
        let c = sentence("Shortly after his state visit");
        assert!(countries(&c).contains(&"RUS") && countries(&c).contains(&"PRK"));
        assert!(c.actors.iter().any(|a| a.code == "PRKGOV"));
        assert!(has_root(&c, &["05", "06"]));
    }

    #[test]
    fn summoning_the_russian_ambassador() {
        let c = sentence("Additionally, South Korea is expected");
        assert!(countries(&c).contains(&"KOR") && countries(&c).contains(&"RUS"));
        assert!(has_root(&c, &["11"]));
        assert_eq!(c.reporter.as_ref().map(|r| r.code.as_str()), Some("KORMED"));
    }

    #[test]
    fn humanitarian_aid_to_ukraine() {
        let c = sentence("To date, South Korea has provided");
        assert!(countries(&c).contains(&"KOR") && countries(&c).contains(&"UKR"));
        let aid = c
            .events
            .iter()
            .find(|e| e.code == "073")
            .expect("humanitarian aid");
        assert_eq!(aid.modality, Modality::Asserted);
        let lethal = c
            .events
            .iter()
            .find(|e| e.cue.contains("lethal"))
            .expect("lethal weapons");
        assert_eq!(lethal.modality, Modality::Negated);
    }

    #[test]
    fn kirby_and_hayashi() {
        let c = sentence("The US national security council spokesman");
        assert!(c.actors.iter().any(|a| a.code == "USAGOV"));
        let c = sentence("Japan also expressed its concerns");
        assert!(c.actors.iter().any(|a| a.code == "JPNGOV"));
        assert!(c.events.iter().any(|e| e.code == "111"));
    }

    #[test]
    fn border_incursion() {
        let c = sentence("In a separate incident on Thursday");
        let codes: Vec<&str> = c.actors.iter().map(|a| a.code.as_str()).collect();
        assert!(
            codes.contains(&"PRKMIL") && codes.contains(&"KORMIL"),
            "{codes:?}"
        );
        assert!(has_root(&c, &["15", "18", "19"]));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::sync::LazyLock;

    static CLASSIFIER: LazyLock<Classifier> = LazyLock::new(Classifier::builtin);

    fn check(text: &str) -> Result<(), TestCaseError> {
        let coding = CLASSIFIER.code(text, None);
        let spans = coding
            .actors
            .iter()
            .map(|a| (a.span, a.mention.as_str()))
            .chain(coding.reporter.iter().map(|a| (a.span, a.mention.as_str())))
            .chain(coding.events.iter().map(|e| (e.cue_span, e.cue.as_str())));
        for (span, shown) in spans {
            prop_assert!(span.start < span.end && span.end <= text.len());
            prop_assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
            prop_assert_eq!(&text[span.start..span.end], shown);
        }
        for e in &coding.events {
            prop_assert!((0.0..=1.0).contains(&e.confidence));
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn coding_arbitrary_text_keeps_spans_valid(text in any::<String>()) {
            check(&text)?;
        }

        #[test]
        fn coding_news_like_text_keeps_spans_valid(words in proptest::collection::vec(
            prop_oneof![
                Just("Russia"), Just("South Korea’s"), Just("North Korean"), Just("troops"), Just("president"),
                Just("of"), Just("the"), Just("warned"), Just("summon"), Just("ambassador"), Just("US"), Just("us"),
                Just("Seoul"), Just("Kim Jong Un"), Just("by"), Just("not"), Just("if"), Just(","), Just("."),
                Just("according to"), Just("Yonhap"), Just("ÄÖÜ"), Just("—"), Just("“"), Just("”"),
            ],
            0..40,
        )) {
            check(&words.join(" "))?;
        }
    }
}
