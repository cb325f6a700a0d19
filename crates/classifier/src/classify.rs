//! The pure core: coding a sentence into actors and events. No I/O.
//!
//! 1. One pass over the sentence's words finds every whole-word occurrence of an actor term
//!    (crate::phrases); overlaps are resolved longest-first.
//! 2. Mentions are combined into CAMEO codes: country + role ("North Korean troops" ->
//!    PRKMIL, "South Korea's presidential office" -> KORGOV, "the president of Russia" ->
//!    RUSGOV); people are coded by the tenure that covers the article's date; a role noun
//!    next to a person ("spokesperson Yoshimasa Hayashi") is absorbed by the person.
//! 3. Reporters ("according to Yonhap", "KCNA reported") are set apart from the actors.
//! 4. The same pass finds cue phrases (with "a ... b" gaps); each selected cue is an event
//!    with its CAMEO code, modality from the words before it, and source and target from
//!    the word order around it ("by X" in passives).

use std::ops::ControlFlow;

use newswire_shared::{
    Actor, CATEGORY_NONE, CodedEvent, CompactString, Modality, RawEvent, Span, TaggedEvent,
};
use time::Date;

use crate::dict::{ACTOR_TERMS, ActorRef, CUE_PATTERNS, CueKind, Dictionary, ROLES, SECOND_PARTS};
use crate::phrases::{Sentence, SentenceBuffers, on_word_boundaries};
use crate::words::words_back;

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
    version: std::sync::Arc<str>,
    /// Index of CAMEO 190 (fight) among the codes: what an unspecific attack by a state becomes.
    fight: Option<usize>,
}

impl Classifier {
    pub fn new(dict: Dictionary) -> Self {
        let version = format!("{CODER_VERSION}+dict.{}", &dict.digest[..8]).into();
        let fight = dict.codes.iter().position(|c| c.code == "190");
        Self {
            dict,
            version,
            fight,
        }
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
        self.tag(raw.clone())
    }

    /// Tags a raw event, taking its fields over (no copy of the sentence and its article's
    /// metadata).
    pub fn tag(&self, raw: RawEvent) -> TaggedEvent {
        let date = raw.article.published_at.map(|t| t.date());
        let coding = self.code(&raw.text, date);
        let mut tagged = TaggedEvent::new(raw, &self.version);
        tagged.category = coding.primary_category().into();
        tagged.actors = coding.actors;
        tagged.events = coding.events;
        tagged.reporter = coding.reporter;
        tagged
    }

    /// Codes one sentence; `date` picks the office holders (latest tenure when unknown).
    pub fn code(&self, text: &str, date: Option<Date>) -> Coding {
        // The thread's working lists are taken for the sentence and put back after it (a
        // panic in between only costs them), so that coding allocates only what it returns.
        let mut scratch = SCRATCH.take();
        let sentence = Sentence::reusing(
            text,
            &self.dict.phrases,
            std::mem::take(&mut scratch.sentence),
        );
        self.find_actor_mentions(&sentence, &mut scratch.mentions);
        let (mut actors, reporter) = self.combine(text, &scratch.mentions, date);
        let mut events = self.find_events(&sentence, &actors, &mut scratch);
        scratch.sentence = sentence.into_buffers();
        // An outsized sentence's buffers are not kept.
        if scratch.sentence.capacity() <= Scratch::KEEP_BYTES {
            SCRATCH.set(scratch);
        }
        // A trailing "..., the ministry said." is attribution whatever the rest codes.
        events.retain(|e| e.code != "010" || !is_trailing_attribution(text, e.cue_span));
        // Distinct actors by code, first mention kept.
        let mut i = 0;
        while i < actors.len() {
            if actors[..i].iter().any(|a| a.code == actors[i].code) {
                actors.remove(i);
            } else {
                i += 1;
            }
        }
        Coding {
            actors,
            events,
            reporter,
        }
    }

    /// The actor terms of `sentence`, overlaps resolved, in `found`.
    fn find_actor_mentions(&self, sentence: &Sentence<'_>, found: &mut Vec<Mention>) {
        let text = sentence.text;
        found.clear();
        self.dict
            .phrases
            .for_each_match(ACTOR_TERMS, sentence, |term_at, span| {
                let term = &self.dict.actor_terms[term_at];
                if !term.case_sensitive || text[span.start..span.end] == term.text {
                    found.push(Mention {
                        span,
                        target: term.target,
                        term: term_at,
                    });
                }
            });
        longest_non_overlapping(found, |m| m.span);
    }

    fn combine(
        &self,
        text: &str,
        mentions: &[Mention],
        date: Option<Date>,
    ) -> (Vec<Actor>, Option<Actor>) {
        // Each mention makes at most one actor.
        let mut actors: Vec<Actor> = Vec::with_capacity(mentions.len());
        let mut reporter = None;
        let mut last_person_end: Option<usize> = None;
        let mut i = 0;
        while i < mentions.len() {
            let m = &mentions[i];
            let next = mentions.get(i + 1);
            let entry = |m: &Mention| self.dict.actor_terms[m.term].entry.as_str();
            let (actor, used) = match m.target {
                // "a hotel in Mogadishu", "talks in Addis Ababa": a capital after a
                // preposition of place is where something happened, not its government.
                ActorRef::Capital(_) if is_location(text, m.span) => {
                    i += 1;
                    continue;
                }
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
                    // "Former British prime minister Boris Johnson", "Moon Jae-in, South
                    // Korea's former president,": a title next to a person names them, and
                    // the person's tenure codes them.
                    let names_person = end > i
                        && (mentions.get(end + 1).is_some_and(|n| {
                            matches!(n.target, ActorRef::Person(_))
                                && text[mentions[end].span.end..n.span.start].trim().is_empty()
                        }) || last_person_end
                            .is_some_and(|p: usize| is_appositive_gap(&text[p..m.span.start])));
                    if names_person {
                        i = end + 1;
                        continue;
                    }
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
                                joined(&[entry(m), "+", entry(&mentions[i + 1])]),
                            ),
                            end + 1 - i,
                        )
                    } else {
                        let role = matches!(m.target, ActorRef::Capital(_)).then_some("GOV");
                        (self.actor(text, m.span, country, role, entry(m).into()), 1)
                    }
                }
                ActorRef::Role(r) => {
                    match next {
                        // "the president of Russia"; "unions in Argentina" for the roles a
                        // place gives a nationality (not "the embassy in Seoul").
                        Some(n)
                            if matches!(n.target, ActorRef::Country(_))
                                && (is_of_gap(&text[m.span.end..n.span.start])
                                    || (is_in_gap(&text[m.span.end..n.span.start])
                                        && NATIONAL_ROLES.contains(&ROLES[r])
                                        && opens_clause(text, m.span.start))) =>
                        {
                            let (ActorRef::Country(c) | ActorRef::Capital(c)) = n.target else {
                                unreachable!("matched a country")
                            };
                            let span = Span::new(m.span.start, n.span.end);
                            let actor = self.actor(
                                text,
                                span,
                                &self.dict.countries[c],
                                Some(ROLES[r]),
                                joined(&[entry(n), "+", entry(m)]),
                            );
                            // "the foreign ministers of Japan, China and South Korea": the
                            // role covers the whole list.
                            let mut used = 2;
                            let mut prev_end = n.span.end;
                            while let Some(k) = mentions.get(i + used) {
                                let ActorRef::Country(c) = k.target else {
                                    break;
                                };
                                if !is_list_gap(&text[prev_end..k.span.start]) {
                                    break;
                                }
                                actors.push(self.actor(
                                    text,
                                    k.span,
                                    &self.dict.countries[c],
                                    Some(ROLES[r]),
                                    joined(&[entry(k), "+", entry(m)]),
                                ));
                                prev_end = k.span.end;
                                used += 1;
                            }
                            if used > 2 {
                                // The list's first member goes before the rest.
                                let first_at = actors.len() - (used - 2);
                                actors.insert(first_at, actor);
                                i += used;
                                continue;
                            }
                            (actor, 2)
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
                    last_person_end = Some(m.span.end);
                    let person = &self.dict.people[p];
                    let role = person_role(person, date);
                    let (country, role) =
                        match self.dict.orgs.iter().find(|o| o.code == person.country) {
                            // Officials of international bodies carry the body's code alone.
                            Some(org) => (org.code.as_str(), None),
                            None => (person.country.as_str(), Some(role)),
                        };
                    (self.actor(text, m.span, country, role, entry(m).into()), 1)
                }
                ActorRef::Org(o) => {
                    let org = &self.dict.orgs[o];
                    let actor = Actor {
                        code: org.code.as_str().into(),
                        country: Some(org.country.as_deref().unwrap_or(&org.code).into()),
                        role: org.role.as_deref().map(Into::into),
                        mention: text[m.span.start..m.span.end].into(),
                        span: m.span,
                        entry: entry(m).into(),
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
        // "Indian and US navies", "Ghanaian and Nepalese peacekeepers": a bare country
        // coordinated with a country + role shares the role.
        for k in (0..actors.len().saturating_sub(1)).rev() {
            let (head, tail) = actors.split_at_mut(k + 1);
            let (bare, next) = (&mut head[k], &tail[0]);
            let shares = bare.role.is_none()
                && bare.country.as_deref() == Some(bare.code.as_str())
                && next.role.is_some()
                && next.entry.contains('+')
                && next.span.start >= bare.span.end
                && matches!(
                    &text[bare.span.end..next.span.start],
                    " and " | ", " | ", and "
                );
            if shares {
                bare.role.clone_from(&next.role);
                bare.code.push_str(next.role.as_deref().unwrap_or(""));
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
        entry: CompactString,
    ) -> Actor {
        Actor {
            code: joined(&[country, role.unwrap_or("")]),
            country: Some(country.into()),
            role: role.map(Into::into),
            mention: text[span.start..span.end].into(),
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

    fn find_events(
        &self,
        sentence: &Sentence<'_>,
        actors: &[Actor],
        scratch: &mut Scratch,
    ) -> Vec<CodedEvent> {
        let text = sentence.text;
        let Scratch {
            firsts,
            seconds,
            candidates,
            seen,
            ..
        } = scratch;
        // Every whole-word match of a cue's first part; a second part ("a ... b") counts after
        // it where it is the first `b` within five words, in the same clause.
        firsts.clear();
        self.dict
            .phrases
            .for_each_match(CUE_PATTERNS, sentence, |at, span| firsts.push((at, span)));
        // Where second parts stand, found once for all the first parts (by start).
        seconds.clear();
        if firsts
            .iter()
            .any(|&(at, _)| self.dict.cue_patterns[at].opens_gapped)
        {
            self.dict
                .phrases
                .for_each_match(SECOND_PARTS, sentence, |id, span| seconds.push((id, span)));
        }
        candidates.clear();
        for &(at, span) in firsts.iter() {
            let pattern = &self.dict.cue_patterns[at];
            candidates.extend(pattern.whole.iter().map(|&cue| (cue, span)));
            if !pattern.opens_gapped {
                continue;
            }
            let limit = second_part_limit(text, span.end);
            let first_after = seconds.partition_point(|&(_, s)| s.start < span.end);
            seen.clear();
            for &(id, second) in seconds[first_after..]
                .iter()
                .take_while(|(_, s)| s.start < limit)
            {
                // Only a second part's first occurrence counts.
                if seen.contains(&id) {
                    continue;
                }
                seen.push(id);
                let span = Span::new(span.start, second.end);
                candidates.extend(self.dict.gapped.cues(at, id).iter().map(|&cue| (cue, span)));
            }
        }
        // A verb whose first word is part of an actor's name is that name's noun: "forces" in
        // "Israeli forces laid siege to" does not open "force ... to".
        candidates.retain(|&(cue, span)| {
            self.dict.cues[cue].kind != CueKind::Verb
                || !actors
                    .iter()
                    .any(|a| a.span.start <= span.start && span.start < a.span.end)
        });
        // Of cues covering the same words, the one with more literal words is the more
        // specific ("held joint ... drills" over "held ... drills"), then the one listed first.
        candidates
            .sort_by_key(|&(cue, _)| (std::cmp::Reverse(self.dict.cues[cue].literal_len), cue));
        longest_non_overlapping(candidates, |c| c.1);
        candidates.retain(|&(cue, span)| match self.dict.cues[cue].kind {
            CueKind::Ignore => false,
            CueKind::Noun => !is_reference(text, span),
            CueKind::Phrase | CueKind::Verb => true,
        });
        // Statement verbs next to a substantive event are attribution ("X said Y attacked").
        let code_of = |cue: usize| &self.dict.codes[self.dict.cues[cue].code];
        if candidates.iter().any(|&(cue, _)| code_of(cue).root != "01") {
            candidates.retain(|&(cue, _)| code_of(cue).code != "010");
        }

        let attribution = if candidates.is_empty() {
            None
        } else {
            attribution_start(text)
        };
        let mut events: Vec<CodedEvent> = candidates
            .iter()
            .map(|&(cue_index, span)| {
                let cue = &self.dict.cues[cue_index];
                let mut info = &self.dict.codes[cue.code];
                let modality = modality(text, span);
                let voice = Voice::of(text, span, cue.kind, &info.code);
                let passive = voice == Voice::Passive;
                let (source, target) =
                    source_and_target(text, span, &info.code, actors, attribution, voice);
                // CAMEO keeps conventional force (19, fight) apart from assault (18): an
                // unspecific attack by a state, its government or its military is a fight.
                if info.code == "180" && source.as_deref().is_some_and(|s| is_state(actors, s)) {
                    info = self.fight.map_or(info, |i| &self.dict.codes[i]);
                }
                let mut confidence = cue.confidence;
                if source.is_none() {
                    confidence *= 0.8;
                }
                if target.is_none() {
                    confidence *= 0.9;
                }
                // No dictionary actor where one acts or is acted on: an unknown capitalised
                // name there is kept as written (looked for only then).
                // In a passive the name before the cue is acted on and the agent follows "by";
                // a bare statement has no target.
                let source_text = source.is_none().then(|| {
                    if passive {
                        unknown_agent_after_by(text, span, actors)
                    } else {
                        unknown_name_before(text, span, actors)
                    }
                });
                let target_text = (target.is_none() && info.code != "010").then(|| {
                    if passive {
                        unknown_name_before(text, span, actors)
                    } else {
                        unknown_name_after(text, span, actors)
                    }
                });
                let (source_text, target_text) = (source_text.flatten(), target_text.flatten());
                CodedEvent {
                    source_text,
                    target_text,
                    code: info.code.as_str().into(),
                    root: info.root.as_str().into(),
                    name: info.name.as_str().into(),
                    category: info.category.as_str().into(),
                    quad_class: info.quad_class,
                    goldstein: info.goldstein,
                    plover: info.plover.as_deref().map(Into::into),
                    cue: text[span.start..span.end].into(),
                    cue_span: span,
                    source,
                    target,
                    modality,
                    confidence: (confidence * 100.0).round() / 100.0,
                }
            })
            .collect();
        // One event per code, source, target and modality: "threatened ... warned" between the
        // same parties is one threat.
        let mut i = 0;
        while i < events.len() {
            let e = &events[i];
            if events[..i].iter().any(|f| {
                f.code == e.code
                    && f.source == e.source
                    && f.target == e.target
                    && f.modality == e.modality
            }) {
                events.remove(i);
            } else {
                i += 1;
            }
        }
        events
    }

    /// The dictionary entry a cue came from, for `--explain`.
    pub fn cue_entry(&self, event: &CodedEvent) -> Option<&str> {
        let lower = event.cue.to_lowercase();
        // The cue as listed: the matched words themselves, or "a ... b" around them.
        let listed = |t: &str| match t.split_once("...") {
            None => t == lower,
            Some((a, b)) => {
                let (a, b) = (a.trim(), b.trim());
                lower.len() > a.len() + b.len() && lower.starts_with(a) && lower.ends_with(b)
            }
        };
        // The cue's text, after "cue:<code>:".
        let texts = || {
            self.dict
                .cues
                .iter()
                .filter(|c| self.dict.codes[c.code].code == event.code)
                .filter_map(|c| Some((c.entry.splitn(3, ':').nth(2)?, c.entry.as_str())))
        };
        texts()
            .find(|&(t, _)| t == lower)
            .or_else(|| texts().find(|&(t, _)| listed(t)))
            .map(|(_, entry)| entry)
    }
}

/// `parts` joined into one string, allocated only when longer than a [`CompactString`] holds
/// inline (24 bytes: every actor code, most dictionary entries).
fn joined(parts: &[&str]) -> CompactString {
    let mut out = CompactString::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

/// "..., the Kremlin said." or "..., officials said on Monday, citing ...": a statement verb
/// that closes the sentence after a comma or a closing quote, with a short subject, names who
/// reported the rest, not a statement event.
fn is_trailing_attribution(text: &str, cue: Span) -> bool {
    let before = &text[..cue.start];
    let Some((p, m)) = before.rmatch_indices([',', '\u{201d}', '"']).next() else {
        return false;
    };
    let subject_words = before[p + m.len()..].split_whitespace().count();
    let after = &text[cue.end..];
    let tail = after.split([',', ';']).next().unwrap_or("");
    // What may follow the verb of an attribution: nothing, or an adverbial ("said on Monday",
    // "said in a statement"); "On Monday, Moon said the economy was strong" has a clause.
    let adverbial = tail
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| !w.is_empty())
        .is_none_or(|w| is_a(w, class::ATTRIBUTION_ADVERBIAL | class::WEEKDAY));
    (1..=8).contains(&subject_words) && tail.split_whitespace().count() <= 5 && adverbial
}

/// First words of what may follow an attribution's verb: "said on Monday", "said in a
/// statement", "told reporters", "said late on Sunday", "said earlier", "said today".
const ATTRIBUTION_ADVERBIALS: &[&str] = &[
    "on",
    "in",
    "at",
    "late",
    "early",
    "earlier",
    "later",
    "today",
    "yesterday",
    "tonight",
    "this",
    "last",
    "during",
    "after",
    "before",
    "via",
    "through",
    "reporters",
    "citing",
    "by",
];

/// Definite determiners and possessive pronouns: a noun cue after one refers to an event
/// already known, unless a support verb governs the phrase ("sent its strongest warning").
/// "a"/"an" introduce a new event ("A suicide bomber killed ...") and count only after a
/// background preposition ("in a war", "after a shootout").
const DETERMINERS: &[&str] = &[
    "the", "this", "that", "these", "those", "its", "their", "his", "her", "our", "any", "such",
    "whose", "every", "each", "another",
];
/// Prepositions that set an event as background ("during protests", "since the war").
const BACKGROUND: &[&str] = &[
    "of",
    "in",
    "during",
    "after",
    "before",
    "since",
    "despite",
    "amid",
    "following",
    "under",
    "at",
    "over",
    "about",
    "from",
    "into",
    "as",
    "like",
    "through",
    "without",
];
/// Nouns of amount: "of" after one does not make background ("tonnes of medical supplies", "a
/// new round of talks", "a package of sanctions").
const QUANTITY: &[&str] = &[
    "tonnes",
    "tons",
    "thousands",
    "hundreds",
    "millions",
    "billions",
    "dozens",
    "scores",
    "package",
    "round",
    "wave",
    "series",
    "number",
    "barrage",
    "volley",
    "string",
    "rounds",
    "shipment",
    "shipments",
    "worth",
];
/// Verbs whose object noun is the event itself: "held talks", "launched an offensive".
const SUPPORT_VERBS: &[&str] = &[
    "hold",
    "holds",
    "held",
    "holding",
    "launch",
    "launches",
    "launched",
    "launching",
    "stage",
    "stages",
    "staged",
    "staging",
    "impose",
    "imposes",
    "imposed",
    "imposing",
    "sign",
    "signs",
    "signed",
    "signing",
    "send",
    "sends",
    "sent",
    "sending",
    "provide",
    "provides",
    "provided",
    "providing",
    "deliver",
    "delivers",
    "delivered",
    "delivering",
    "conduct",
    "conducts",
    "conducted",
    "conducting",
    "carry",
    "carried",
    "carries",
    "carrying",
    "begin",
    "begins",
    "began",
    "begun",
    "beginning",
    "resume",
    "resumes",
    "resumed",
    "resuming",
    "open",
    "opens",
    "opened",
    "opening",
    "issue",
    "issues",
    "issued",
    "issuing",
    "make",
    "makes",
    "made",
    "making",
    "give",
    "gives",
    "gave",
    "given",
    "giving",
    "offer",
    "offers",
    "offered",
    "offering",
    "pledge",
    "pledges",
    "pledged",
    "pledging",
    "reach",
    "reached",
    "reaching",
    "conclude",
    "concluded",
    "propose",
    "proposed",
    "proposes",
    "mount",
    "mounted",
    "mounts",
    "wage",
    "waged",
    "waging",
    "declare",
    "declared",
    "declares",
    "lodge",
    "lodged",
    "file",
    "filed",
    "order",
    "ordered",
    "orders",
    "approve",
    "approved",
    "approves",
    "announce",
    "announced",
    "announces",
    "expand",
    "expanded",
    "extend",
    "extended",
    "continue",
    "continued",
    "continues",
    "intensify",
    "intensified",
    "step",
    "stepped",
    "escalate",
    "escalated",
    "host",
    "hosted",
    "hosts",
    "attend",
    "attended",
    "join",
    "joined",
    "call",
    "called",
    "calls",
    "urge",
    "urged",
    "urges",
    "demand",
    "demanded",
    "demands",
    "seek",
    "sought",
    "seeks",
    "request",
    "requested",
    "receive",
    "received",
    "accept",
    "accepted",
    "agree",
    "agreed",
    "agrees",
    "pay",
    "paid",
    "end",
    "ended",
    "halt",
    "halted",
    "suspend",
    "suspended",
    "lift",
    "lifted",
    "tighten",
    "tightened",
    "ease",
    "eased",
    "renew",
    "renewed",
];

/// Whether a noun cue only refers to an event: its phrase opens with a determiner, a
/// possessive ("Russia's invasion") or a background preposition ("during protests", "in a
/// war"), and no support verb comes right before that.
fn is_reference(text: &str, cue: Span) -> bool {
    let before = &text[..cue.start];
    // The clause ends at punctuation: look no further back.
    let clause = before
        .rmatch_indices([',', ';', ':', '(', '"', '\u{201c}', '\u{201d}', '\u{2014}'])
        .next()
        .map_or(before, |(p, m)| &before[p + m.len()..]);
    let words = words_back(clause, |c| {
        c.is_alphanumeric() || c == '\'' || c == '\u{2019}' || c == '-'
    })
    .map(|(_, w)| w);
    // Up to three modifiers before the determiner ("the recent defence accord"), and up to
    // two words between a support verb and the determiner ("sent him a warning").
    let mut budget = 3;
    let mut referring = false;
    let mut words = words.peekable();
    while let Some(w) = words.next() {
        let classes = word_classes(w);
        let is = |class: u32| classes & class != 0;
        if is(class::SUPPORT_VERB) {
            return false;
        }
        // Past the determiner, a preposition means the verb before it governs another noun:
        // "pledged support for Russia's invasion".
        if referring && is(class::BACKGROUND_WORD | class::PREPOSITION) {
            break;
        }
        if !referring {
            let possessive =
                ends_with_ignore_case(w, "'s") || ends_with_ignore_case(w, "\u{2019}s");
            let of_amount = w.eq_ignore_ascii_case("of")
                && words.peek().is_some_and(|n| {
                    is_a(n, class::QUANTITY_WORD)
                        || n.chars().all(|c| c.is_ascii_digit() || c == ',')
                });
            if (is(class::DETERMINER | class::BACKGROUND_WORD) || possessive) && !of_amount {
                referring = true;
                // A support verb may still govern the phrase: "carried out a campaign of
                // ethnic cleansing", "provide 40 million euros in military assistance".
                budget = 3;
                continue;
            }
        }
        if budget == 0 {
            break;
        }
        budget -= 1;
    }
    referring
}

/// Where the second part of a gapped cue may no longer begin after its first part ends at
/// `from`: a whole-word occurrence counts if it starts before the returned offset, that is
/// with at most five words and no clause-ending punctuation before it.
fn second_part_limit(text: &str, from: usize) -> usize {
    let mut words = 0;
    let mut in_word = false;
    for (i, c) in text[from..].char_indices() {
        if words > 5 || matches!(c, '.' | ';' | ':' | '!' | '?') {
            return from + i;
        }
        if c.is_whitespace() {
            in_word = false;
        } else if !in_word {
            in_word = true;
            words += 1;
        }
    }
    text.len()
}

#[derive(Debug, Clone, Copy)]
struct Mention {
    span: Span,
    target: ActorRef,
    term: usize,
}

/// Keeps the longest of overlapping items (earlier first on equal length), in text order.
fn longest_non_overlapping<T: Copy>(items: &mut Vec<T>, span: impl Fn(&T) -> Span) {
    items.sort_by(|a, b| {
        let (sa, sb) = (span(a), span(b));
        sb.len().cmp(&sa.len()).then(sa.start.cmp(&sb.start))
    });
    // The kept items gather at the front, in the order they were kept.
    let mut kept = 0;
    for i in 0..items.len() {
        let s = span(&items[i]);
        if items[..kept].iter().all(|k| {
            let t = span(k);
            s.end <= t.start || s.start >= t.end
        }) {
            items[kept] = items[i];
            kept += 1;
        }
    }
    items.truncate(kept);
    items.sort_by_key(|k| span(k).start);
}

/// The working lists of coding one sentence, kept per thread from one sentence to the next.
#[derive(Debug, Default)]
struct Scratch {
    sentence: SentenceBuffers,
    mentions: Vec<Mention>,
    /// Cue first parts, second parts and the cues they make, with where they stand.
    firsts: Vec<(usize, Span)>,
    seconds: Vec<(usize, Span)>,
    candidates: Vec<(usize, Span)>,
    /// The second parts already paired with the current first part.
    seen: Vec<usize>,
}

impl Scratch {
    /// Sentence buffers larger than this (a sentence of some 40 KB) are dropped after use.
    const KEEP_BYTES: usize = 1 << 16;

    const fn new() -> Self {
        Self {
            sentence: SentenceBuffers::new(),
            mentions: Vec::new(),
            firsts: Vec::new(),
            seconds: Vec::new(),
            candidates: Vec::new(),
            seen: Vec::new(),
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = const { std::cell::Cell::new(Scratch::new()) };
}

fn is_of_gap(gap: &str) -> bool {
    is_one_of(gap, &[" of ", " of the "])
}

/// Whether the actor coded `code` is a state: a country alone, its government or its
/// military (not its rebels, police, civilians, or an organisation).
fn is_state(actors: &[Actor], code: &str) -> bool {
    actors.iter().any(|a| {
        a.code == code
            && a.country
                .as_deref()
                .is_some_and(|c| code.starts_with(c) && c.len() == 3)
            && matches!(a.role.as_deref(), None | Some("GOV" | "MIL"))
    })
}

/// "in Mogadishu", "near Khartoum", but not "arrived in Kyiv" (a visit's destination).
fn is_location(text: &str, span: Span) -> bool {
    let Some((at, word)) = word_before_at(text, span.start) else {
        return false;
    };
    if !is_a(word, class::PLACE_PREPOSITION) {
        return false;
    }
    !is_one_of(
        word_before(text, at),
        &[
            "arrived", "arrives", "arriving", "arrive", "landed", "lands",
        ],
    )
}

fn is_in_gap(gap: &str) -> bool {
    is_one_of(gap, &[" in ", " in the "])
}

/// Whether at most two words ("Separatist militants", "Protesters") stand between the start of
/// the clause and `at`: the phrase there is the clause's subject.
fn opens_clause(text: &str, at: usize) -> bool {
    let before = &text[..at];
    let clause = before
        .rmatch_indices([',', ';', ':'])
        .next()
        .map_or(before, |(p, m)| &before[p + m.len()..]);
    clause.split_whitespace().count() <= 2
}

/// ", " or " and " between members of a list.
fn is_list_gap(gap: &str) -> bool {
    matches!(gap, ", " | " and " | ", and " | " and the " | ", the ")
}

/// What may stand between a person and an appositive title: ", " and at most two words
/// ("Moon Jae-in, South Korea's former president", "Zaluzhnyi, now Ukraine's ambassador").
fn is_appositive_gap(gap: &str) -> bool {
    gap.strip_prefix(", ").is_some_and(|rest| {
        let words: Vec<&str> = rest.split_whitespace().collect();
        words.len() <= 2
            && !rest.contains(',')
            && words.iter().all(|w| is_a(w, class::APPOSITIVE_WORD))
    })
}

/// Words that may open an appositive title ("Zaluzhnyi, now Ukraine's ambassador"); a
/// conjunction or verb there starts another actor ("Putin met Kim, and Russian officials").
const APPOSITIVE_WORDS: &[&str] = &[
    "now",
    "then",
    "also",
    "still",
    "currently",
    "formerly",
    "once",
    "the",
    "a",
    "an",
];

/// Roles whose members take the nationality of the place they are in ("protesters in
/// Kenya", "unions in Argentina"); a government body in a capital is not its government.
const NATIONAL_ROLES: &[&str] = &["CVL", "LAB", "REB", "OPP", "REF", "EDU", "BUS"];

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
        "a report by",
        "a statement by",
    ]
    .iter()
    .any(|phrase| ends_with_ignore_case(before, phrase))
    {
        return true;
    }
    if actor.role.as_deref() == Some("MED") {
        // "two government sources told Reuters"
        if ends_with_ignore_case(before, " told") || ends_with_ignore_case(before, " told the") {
            return true;
        }
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

const NEGATION_WORDS: &[&str] = &[
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
const HYPOTHETICAL_WORDS: &[&str] = &[
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
const FUTURE_WORDS: &[&str] = &[
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
    // The last eight words of the clause, back to a contrasting conjunction ("refused to send
    // weapons but has taken in refugees"), and the cue's own words; each word looked up once.
    let (mut negated, mut hypothetical, mut future) = (false, false, false);
    for (_, word) in words_back(clause, |c| {
        c.is_alphanumeric() || c == '\'' || c == '\u{2019}'
    })
    .take(8)
    {
        let flags = word_classes(word);
        if flags & class::CONTRAST != 0 {
            break;
        }
        negated |= flags & class::NEGATION != 0
            || ends_with_ignore_case(word, "n't")
            || ends_with_ignore_case(word, "n\u{2019}t");
        hypothetical |= flags & class::HYPOTHETICAL != 0;
        future |= flags & class::FUTURE != 0;
    }
    // A cue that is itself a refusal or denial ("declined to comment", "denied involvement",
    // "halted aid") states it; only the words before it negate it.
    if negated {
        return Modality::Negated;
    }
    for word in text[cue.start..cue.end].split_whitespace() {
        let flags = word_classes(word);
        hypothetical |= flags & class::HYPOTHETICAL != 0;
        future |= flags & class::FUTURE != 0;
    }
    if hypothetical {
        Modality::Hypothetical
    } else if future {
        Modality::Future
    } else {
        Modality::Asserted
    }
}

/// The closed word classes the coder asks about, as bits: each is one of the word lists of
/// this module. [`word_classes`] answers for all of them with one lookup.
mod class {
    pub const NEGATION: u32 = 1 << 0;
    pub const HYPOTHETICAL: u32 = 1 << 1;
    pub const FUTURE: u32 = 1 << 2;
    pub const CONTRAST: u32 = 1 << 3;
    pub const ATTRIBUTION_ADVERBIAL: u32 = 1 << 4;
    pub const DETERMINER: u32 = 1 << 5;
    pub const BACKGROUND_WORD: u32 = 1 << 6;
    pub const QUANTITY_WORD: u32 = 1 << 7;
    pub const SUPPORT_VERB: u32 = 1 << 8;
    pub const APPOSITIVE_WORD: u32 = 1 << 9;
    pub const PREPOSITION: u32 = 1 << 10;
    pub const WEEKDAY: u32 = 1 << 11;
    pub const MONTH: u32 = 1 << 12;
    pub const NOT_NAME: u32 = 1 << 13;
    pub const REPORTING_VERB: u32 = 1 << 14;
    pub const BE_FORM: u32 = 1 << 15;
    pub const NOUN_PHRASE_OPENER: u32 = 1 << 16;
    pub const PLACE_PREPOSITION: u32 = 1 << 17;
}

/// Each word list with its class.
const WORD_CLASSES: &[(&[&str], u32)] = &[
    (NEGATION_WORDS, class::NEGATION),
    (HYPOTHETICAL_WORDS, class::HYPOTHETICAL),
    (FUTURE_WORDS, class::FUTURE),
    (CONTRAST_WORDS, class::CONTRAST),
    (ATTRIBUTION_ADVERBIALS, class::ATTRIBUTION_ADVERBIAL),
    (DETERMINERS, class::DETERMINER),
    (BACKGROUND, class::BACKGROUND_WORD),
    (QUANTITY, class::QUANTITY_WORD),
    (SUPPORT_VERBS, class::SUPPORT_VERB),
    (APPOSITIVE_WORDS, class::APPOSITIVE_WORD),
    (PREPOSITIONS, class::PREPOSITION),
    (WEEKDAYS, class::WEEKDAY),
    (MONTHS, class::MONTH),
    (NOT_NAMES, class::NOT_NAME),
    (REPORTING, class::REPORTING_VERB),
    (BE, class::BE_FORM),
    (NOUN_PHRASE_OPENERS, class::NOUN_PHRASE_OPENER),
    (PLACE, class::PLACE_PREPOSITION),
];

/// Which of the [`class`] lists `word` is on, in any ASCII case, as bits; 0 for most words.
/// One integer hash probe of the packed lower-cased word: the coder asks this for every word
/// around every cue, and the lists hold up to 161 words (a test holds them to
/// [`crate::phrases::SHORT_WORD`] bytes).
fn word_classes(word: &str) -> u32 {
    static WORDS: std::sync::LazyLock<rustc_hash::FxHashMap<u128, u32>> =
        std::sync::LazyLock::new(|| {
            let mut words = rustc_hash::FxHashMap::default();
            for &(list, class) in WORD_CLASSES {
                for &w in list {
                    let key = crate::phrases::short_word_key(w).expect("class words are short");
                    *words.entry(key).or_insert(0) |= class;
                }
            }
            words
        });
    crate::phrases::short_word_key(word)
        .and_then(|key| WORDS.get(&key))
        .copied()
        .unwrap_or(0)
}

/// Whether `word` is on any of the lists of `classes` (bits of [`class`]).
fn is_a(word: &str, classes: u32) -> bool {
    word_classes(word) & classes != 0
}

/// Conjunctions that start a new clause for modality: "... refused to send weapons but has
/// taken in refugees".
const CONTRAST_WORDS: &[&str] = &["but", "while", "whereas", "although", "though", "yet"];

const PREPOSITIONS: &[&str] = &[
    "between", "with", "of", "to", "against", "from", "for", "on", "in", "into", "at", "toward",
    "towards", "about", "over", "among", "amid", "near", "across", "along", "like", "than",
];

/// The word before `at`, lower-cased, skipping articles.
fn word_before(text: &str, at: usize) -> &str {
    word_before_at(text, at).map_or("", |(_, w)| w)
}

/// The word before `at`, skipping articles, with where it starts; no allocation (this runs for
/// every actor of every cue).
fn word_before_at(text: &str, at: usize) -> Option<(usize, &str)> {
    words_back(&text[..at], |c| c.is_alphanumeric() || c == '-').find(|(_, word)| {
        !["the", "a", "an"]
            .iter()
            .any(|a| word.eq_ignore_ascii_case(a))
    })
}

/// Whether `word` is one of `list` (lower-case ASCII), in any case.
fn is_one_of(word: &str, list: &[&str]) -> bool {
    list.iter().any(|w| word.eq_ignore_ascii_case(w))
}

/// Whether `actor` is the object of a preposition: "with Russia", "between Moscow and Pyongyang".
fn in_prepositional_phrase(text: &str, actors: &[Actor], actor: &Actor) -> bool {
    let word = word_before(text, actor.span.start);
    if is_a(word, class::PREPOSITION) {
        return true;
    }
    if is_one_of(word, &["and", "or"]) {
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

/// Days and months: capitalised, never names.
const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Words written with a capital that are not names: sentence openers, pronouns, and (with
/// [`WEEKDAYS`] and [`MONTHS`]) dates.
const NOT_NAMES: &[&str] = &[
    "the",
    "a",
    "an",
    "in",
    "on",
    "at",
    "after",
    "before",
    "during",
    "but",
    "and",
    "however",
    "meanwhile",
    "it",
    "he",
    "she",
    "they",
    "we",
    "i",
    "this",
    "that",
    "these",
    "those",
    "its",
    "their",
    "his",
    "her",
    "our",
    "some",
    "many",
    "most",
    "several",
    "both",
    "when",
    "while",
    "if",
    "as",
    "since",
    "despite",
    "under",
    "following",
    "earlier",
    "later",
    "last",
    "officials",
    "authorities",
    "police",
    "protesters",
    "analysts",
];

/// Calls `found` with each run of capitalised words ("Wagner Group", "Abu Mohammed
/// al-Julani"), with the connecting lower-case particles names carry, that overlaps no known
/// actor, in `text[from..to]`, in order, until it breaks or until more than `within` words
/// have passed outside a run.
fn capitalised_runs(
    text: &str,
    from: usize,
    to: usize,
    actors: &[Actor],
    within: usize,
    mut found: impl FnMut(Span) -> ControlFlow<()>,
) {
    let mut current: Option<Span> = None;
    let mut at = from;
    let mut words_before = 0;
    for word in text[from..to].split_inclusive(|c: char| c.is_whitespace()) {
        if current.is_none() && words_before > within {
            return;
        }
        if !word.trim_end().is_empty() {
            words_before += 1;
        }
        let start = at;
        at += word.len();
        let token = word
            .trim_end()
            .trim_matches(|c: char| !c.is_alphanumeric() && c != '-');
        let end = start
            + word
                .trim_end()
                .trim_end_matches(|c: char| !c.is_alphanumeric())
                .len();
        let capitalised = token.chars().next().is_some_and(char::is_uppercase)
            && !is_a(token, class::NOT_NAME | class::WEEKDAY | class::MONTH)
            && !actors
                .iter()
                .any(|a| a.span.start < end && start < a.span.end);
        let particle = is_one_of(token, &["al", "bin", "de", "del", "van", "von", "of", "la"]);
        match (capitalised, particle, current.as_mut()) {
            (true, _, Some(run)) => run.end = end,
            (true, _, None) => current = Some(Span::new(start, end)),
            (false, true, Some(_)) => {}
            _ => {
                if let Some(run) = current.take()
                    && found(run).is_break()
                {
                    return;
                }
            }
        }
        // A clause ends the run.
        if word.trim_end().ends_with([',', ';', ':'])
            && let Some(run) = current.take()
            && found(run).is_break()
        {
            return;
        }
    }
    if let Some(run) = current {
        let _ = found(run);
    }
}

/// The first of [`capitalised_runs`], if at most `within` words stand before it: the words
/// after that are not read.
fn first_capitalised_run(
    text: &str,
    from: usize,
    to: usize,
    actors: &[Actor],
    within: usize,
) -> Option<Span> {
    let mut first = None;
    capitalised_runs(text, from, to, actors, within, |run| {
        first = Some(run);
        ControlFlow::Break(())
    });
    first
}

/// The unknown name right before the cue in its clause (the subject), if any: the last run of
/// capitalised words, not counting the sentence's first word alone.
fn unknown_name_before(text: &str, cue: Span, actors: &[Actor]) -> Option<CompactString> {
    let before = &text[..cue.start];
    let clause_start = before
        .rmatch_indices([',', ';', ':'])
        .next()
        .map_or(0, |(p, m)| p + m.len());
    let mut last = None;
    capitalised_runs(text, clause_start, cue.start, actors, usize::MAX, |run| {
        last = Some(run);
        ControlFlow::Continue(())
    });
    let run = last?;
    // At most three words between the name and the cue ("Wagner fighters reportedly seized").
    if text[run.end..cue.start].split_whitespace().count() > 3 {
        return None;
    }
    let name = &text[run.start..run.end];
    let opens_sentence = text[..run.start].trim().is_empty();
    (!opens_sentence || name.contains(' ')).then(|| name.into())
}

/// The unknown agent of a passive: the name right after a "by" that follows the cue in its
/// clause ("was attacked by Wagner Group fighters").
fn unknown_agent_after_by(text: &str, cue: Span, actors: &[Actor]) -> Option<CompactString> {
    let after = &text[cue.end..];
    let clause_end = after.find([',', ';', ':', '.']).unwrap_or(after.len());
    let by = after[..clause_end]
        .match_indices("by ")
        .find(|&(p, _)| on_word_boundaries(text, Span::new(cue.end + p, cue.end + p + 2)))?
        .0;
    let from = cue.end + by + 2;
    let run = first_capitalised_run(text, from, cue.end + clause_end, actors, 2)?;
    Some(text[run.start..run.end].into())
}

/// The unknown name right after the cue in its clause (the object), if any.
fn unknown_name_after(text: &str, cue: Span, actors: &[Actor]) -> Option<CompactString> {
    let after = &text[cue.end..];
    let clause_end = after
        .find([',', ';', ':', '.'])
        .map_or(text.len(), |p| cue.end + p);
    // At most three words between the cue and the name ("attacked the town of Bakhmut").
    let run = first_capitalised_run(text, cue.end, clause_end, actors, 3)?;
    Some(text[run.start..run.end].into())
}

/// Verbs that close a sentence with its source: "..., the ministry said."
const REPORTING: &[&str] = &[
    "said",
    "says",
    "told",
    "reported",
    "reports",
    "announced",
    "added",
    "stated",
    "confirmed",
    "concluded",
    "wrote",
    "tweeted",
];

/// Where a trailing attribution starts: the comma before ", the Kremlin said" or ", according
/// to Yonhap" at the end of the sentence. The actors after it report the sentence; they are
/// neither source nor target of its events.
fn attribution_start(text: &str) -> Option<usize> {
    let mut commas = text.rmatch_indices([',', '\u{201d}', '"']).take(3);
    commas.find_map(|(p, m)| {
        let rest = text[p + m.len()..].trim_start_matches([',', ' ']);
        if starts_with_ignore_case(rest, "according to ") {
            return Some(p);
        }
        rest.split_whitespace()
            .take(10)
            .enumerate()
            .any(|(i, w)| {
                let w = w.trim_end_matches(['.', ',', ';']);
                (1..=8).contains(&i)
                    && is_a(w, class::REPORTING_VERB)
                    && rest
                        .split([',', ';'])
                        .next()
                        .is_some_and(|clause| clause.split_whitespace().count() <= i + 6)
            })
            .then_some(p)
    })
}

/// Forms of "be" that make a following participle passive ("was criticised by").
const BE: &[&str] = &["was", "were", "is", "are", "been", "being", "be"];

/// Whether the cue is a passive verb: "by" right after it, or a past participle after a form
/// of "be" (an adverb may stand between: "was formally criticised"; the cue may hold the "be"
/// itself: "were blocked"). "was willing to host" is not one. "by" names the agent after a
/// noun ("an attack by") or a participle ("a plan rejected by"), but not after a verb's object:
/// in "rejected a demand by Kyiv" Kyiv made the demand.
fn is_passive(text: &str, cue: Span, kind: CueKind) -> bool {
    let is_be = |w: &str| is_a(w, class::BE_FORM);
    let participle = crate::inflect::is_past_participle;
    let cue_text = &text[cue.start..cue.end];
    let mut cue_words = cue_text.split_whitespace();
    let Some(mut first) = cue_words.next() else {
        return false;
    };
    let mut be_inside = false;
    if is_be(first) {
        be_inside = true;
        first = cue_words.next().unwrap_or("");
    }
    let mut before =
        words_back(&text[..cue.start], |c| c.is_alphanumeric() || c == '-').map(|(_, w)| w);
    let be_before = match (before.next(), before.next()) {
        (Some(w), _) if is_be(w) => true,
        (Some(adverb), Some(w)) => adverb.ends_with("ly") && is_be(w),
        _ => false,
    };
    let by_names_agent = match kind {
        CueKind::Verb => {
            cue_text
                .split_whitespace()
                .next_back()
                .is_some_and(participle)
                || (participle(first) && (be_inside || be_before))
        }
        CueKind::Noun | CueKind::Phrase | CueKind::Ignore => true,
    };
    if by_names_agent && starts_with_ignore_case(text[cue.end..].trim_start(), "by ") {
        return true;
    }
    if !participle(first) {
        return false;
    }
    // "was prepared to lend", "were forced to": an adjective before an infinitive. "were
    // airlifted to Libya", "was sentenced to five years": "to" before a noun phrase is a
    // preposition and the participle a passive.
    let rest = text[cue.start..]
        .split_whitespace()
        .skip_while(|w| !w.eq_ignore_ascii_case("to"));
    let mut after_to = rest.skip(1);
    let to_follows = cue_words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("to"))
        || starts_with_ignore_case(text[cue.end..].trim_start(), "to ");
    if to_follows && after_to.next().is_some_and(starts_a_verb) {
        return false;
    }
    be_inside || be_before
}

/// Whether `word`, after "to", can begin an infinitive rather than a noun phrase: not a name,
/// a number or a word that opens a noun phrase.
fn starts_a_verb(word: &str) -> bool {
    let word = word.trim_matches(|c: char| !c.is_alphanumeric());
    let noun_phrase = word
        .chars()
        .next()
        .is_none_or(|c| c.is_uppercase() || c.is_numeric())
        || is_a(word, class::DETERMINER | class::NOUN_PHRASE_OPENER);
    !noun_phrase
}

/// Words that open a noun phrase after "to" besides the definite determiners: "sentenced to
/// a year", "to five years", "to death", "to life in prison".
const NOUN_PHRASE_OPENERS: &[&str] = &[
    "a", "an", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "twelve", "fifteen", "twenty", "several", "many", "more", "death", "life", "prison", "jail",
    "power", "office",
];

/// How a cue's parties are read from the words around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Voice {
    /// Subject acts, object receives.
    Active,
    /// The agent follows "by"; the subject receives.
    Passive,
    /// A noun of saying, asking, helping or protesting followed by "from X": X acts, the
    /// subject receives, as in a passive; without an actor after "from", as `Active`.
    NounFrom,
}

impl Voice {
    fn of(text: &str, cue: Span, kind: CueKind, code: &str) -> Self {
        if is_passive(text, cue, kind) {
            return Self::Passive;
        }
        // Not where "from" names a place left or a source of goods: yielding (08, "withdrawal
        // from") and material conflict (15-20, "expulsion from", "attacks from").
        let verbal = !matches!(
            code.get(..2),
            Some("08" | "15" | "16" | "17" | "18" | "19" | "20")
        );
        if kind == CueKind::Noun
            && verbal
            && starts_with_ignore_case(text[cue.end..].trim_start(), "from ")
        {
            return Self::NounFrom;
        }
        Self::Active
    }
}

/// Codes whose two parties act alike ("Biden and Xi held talks", "talks between A and B"):
/// a coordinated subject's second member, or the second party after "between", is the
/// target. For the others a third party acts on them ("the EU offered to mediate between
/// Serbia and Kosovo").
const SYMMETRIC: &[&str] = &[
    "036", "040", "041", "044", "046", "050", "057", "060", "061", "062", "064", "087", "190",
    "193",
];

/// Prepositions of place: a bare country after one is where a non-violent event happened,
/// not whom it was aimed at ("rallied in Tel Aviv", "apologised ... in Gaza").
const PLACE: &[&str] = &["in", "at", "near", "outside", "inside", "across", "around"];

/// Source and target of the event whose cue sits at `cue`, from the word order around it:
/// - the source is the nearest actor before the cue that is not the object of a preposition
///   ("the pact between North Korea and Russia"); of coordinated subjects ("Qatar and Egypt
///   mediated") the first;
/// - the target is the nearest other actor from the cue on, else the subject's second member
///   ("Biden and Xi held talks");
/// - in a passive ("was criticised by observers from the OSCE") the agent after "by" is the
///   source and the subject the target; so is the actor after "from" that follows a noun of
///   saying, asking, helping or protesting ("drew threats from Russia");
/// - "between A and B" right after the cue makes A the source and B the target;
/// - actors in a trailing attribution (", the Kremlin said") are neither; a bare statement
///   ("said") has no target.
fn source_and_target(
    text: &str,
    cue: Span,
    code: &str,
    all_actors: &[Actor],
    attribution: Option<usize>,
    voice: Voice,
) -> (Option<CompactString>, Option<CompactString>) {
    let end = attribution.filter(|&p| p >= cue.end).unwrap_or(text.len());
    // The actors before the attribution, and those before the cue, walked afresh each time
    // rather than collected: this runs for every cue of every sentence.
    let actors = || all_actors.iter().filter(move |a| a.span.end <= end);
    let preceding = || actors().filter(|a| a.span.end <= cue.start);
    let after_cue = &text[cue.end..];
    // The clause after the cue, for the agent of a passive.
    let clause_end = after_cue
        .find(['.', ';', ',', '\u{2014}'])
        .map_or(text.len(), |p| cue.end + p);
    // "by X" or "by observers from X": the marker at most three words before the actor.
    let agent_after = |marker: &str| {
        actors()
            .filter(|a| a.span.start >= cue.end && a.span.end <= clause_end)
            .filter(|a| {
                let gap = &text[cue.end..a.span.start];
                words_back(gap, char::is_alphanumeric)
                    .take(4)
                    .any(|(_, w)| w.eq_ignore_ascii_case(marker))
            })
            .min_by_key(|a| a.span.start)
    };
    let agent = match voice {
        Voice::Passive => Some(agent_after("by")),
        // "an angry response from Israel", "a request from Kyiv": the noun's agent.
        Voice::NounFrom => agent_after("from").map(Some),
        Voice::Active => None,
    };
    // The subject: the nearest actor before the cue that is not the object of a preposition
    // ("the pact between North Korea and Russia"), else the nearest one.
    let subject = preceding()
        .rev()
        .find(|a| !in_prepositional_phrase(text, all_actors, a))
        .or_else(|| preceding().next_back());
    // "Qatar and Egypt mediated", "Spain, Ireland and Norway recognised": the first member
    // of a coordinated subject acts; the other is the counterpart of symmetric events.
    // ", calling the accusations baseless": a participle clause has the sentence's subject,
    // or the speaker's after an attribution (", the Kremlin said, rejecting ..."). "... and
    // urged Beijing to": a coordinated verb has the first verb's subject.
    let first_word = text[cue.start..cue.end]
        .split_whitespace()
        .next()
        .unwrap_or("");
    let head = text[..cue.start].trim_end();
    let participle_clause = head.ends_with(',') && ends_with_ignore_case(first_word, "ing");
    let after_reporting = participle_clause
        && head
            .trim_end_matches(',')
            .rsplit(char::is_whitespace)
            .next()
            .is_some_and(|w| is_a(w, class::REPORTING_VERB));
    let coordinated_verb =
        ends_with_ignore_case(head, " and") && crate::inflect::is_past_participle(first_word);
    let subject = if (participle_clause && !after_reporting) || coordinated_verb {
        preceding()
            .find(|a| !in_prepositional_phrase(text, all_actors, a))
            .or(subject)
    } else {
        subject
    };
    let symmetric = SYMMETRIC.contains(&code);
    let (subject, partner) = match subject {
        Some(last) if word_before(text, last.span.start).eq_ignore_ascii_case("and") => {
            let mut first = last;
            while let Some(prev) = preceding()
                .filter(|a| a.span.end <= first.span.start)
                .max_by_key(|a| a.span.end)
            {
                let gap = text[prev.span.end..first.span.start].trim();
                let linked = matches!(gap, "and" | "," | "and the" | ", and" | ", and the")
                    || gap.eq_ignore_ascii_case("and the");
                if !linked {
                    break;
                }
                first = prev;
            }
            if std::ptr::eq(first, last) {
                (Some(last), None)
            } else {
                // The second member: the one right after the first.
                let second = preceding()
                    .filter(|a| a.span.start >= first.span.end)
                    .min_by_key(|a| a.span.start);
                (Some(first), second)
            }
        }
        other => (other, None),
    };
    // "collaboration between Moscow and Pyongyang": the pair after "between" are the parties.
    let between = starts_with_ignore_case(after_cue.trim_start(), "between ")
        .then(|| {
            let mut after: Vec<&Actor> = actors().filter(|a| a.span.start >= cue.end).collect();
            after.sort_by_key(|a| a.span.start);
            match after.as_slice() {
                [a, b, ..] if word_before(text, b.span.start).eq_ignore_ascii_case("and") => {
                    Some((*a, *b))
                }
                _ => None,
            }
        })
        .flatten();
    let violent = matches!(code.get(..2), Some("18" | "19" | "20"));
    let (source, target) = match (agent, between) {
        (_, Some((a, b))) if symmetric || subject.is_none() => (Some(a), Some(b)),
        (_, Some((a, _))) => (subject, Some(a)),
        // No subject ("The ceasefire agreement was signed by A and B"): the actor after the
        // agent is the counterpart.
        (Some(agent), None) => {
            let target = subject.or_else(|| {
                agent.and_then(|g| {
                    actors()
                        .filter(|a| a.span.start >= g.span.end && a.code != g.code)
                        .min_by_key(|a| a.span.start)
                })
            });
            (agent, target)
        }
        (None, None) => {
            let source = subject;
            // Actors inside a gapped cue ("summon the Russian ambassador") are its objects.
            let after = actors()
                .filter(|a| a.span.start >= cue.start)
                .filter(|a| source.is_none_or(|s| s.code != a.code))
                .filter(|a| {
                    violent
                        || a.role.is_some()
                        || !is_a(word_before(text, a.span.start), class::PLACE_PREPOSITION)
                })
                .min_by_key(|a| a.span.start);
            let target = if symmetric { partner.or(after) } else { after };
            (source, target)
        }
    };
    let target = target
        .filter(|t| source.is_none_or(|s| s.code != t.code))
        .filter(|_| code != "010");
    (
        source.map(|a| a.code.clone()),
        target.map(|a| a.code.clone()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phrases::PhraseIndex;
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

    /// The window rule of gapped cues written out plainly: the first whole-word occurrence
    /// anywhere in the clause, kept if at most five words stand before it.
    fn second_part_by_definition(text: &str, from: usize, second: &str) -> Option<usize> {
        let rest = &text[from..];
        let clause = rest
            .find(['.', ';', ':', '!', '?'])
            .map_or(rest.len(), |i| i);
        (0..=clause)
            .filter(|&at| at + second.len() <= rest.len())
            .find(|&at| {
                rest.is_char_boundary(at)
                    && rest.is_char_boundary(at + second.len())
                    && rest[at..at + second.len()].eq_ignore_ascii_case(second)
                    && on_word_boundaries(text, Span::new(from + at, from + at + second.len()))
            })
            .filter(|&at| rest[..at].split_whitespace().count() <= 5)
            .map(|at| from + at + second.len())
    }

    #[test]
    fn second_parts_are_found_within_five_words_of_the_same_clause() {
        let gold = include_str!("../../../tests/gold/events.jsonl");
        let seconds = [
            "to",
            "for",
            "sanctions",
            "talks",
            "a",
            "on",
            "agreement",
            "the",
            "-led",
        ];
        let matcher = PhraseIndex::new(&[&seconds]);
        let mut found = 0;
        for line in gold.lines() {
            let gold: serde_json::Value = serde_json::from_str(line).expect("gold line");
            let text = gold["text"].as_str().expect("gold text");
            let text = format!("{text} \u{a0}to\u{2003}for  ¿sanctions? «talks»");
            let sentence = Sentence::new(&text, &matcher);
            let mut occurrences = Vec::new();
            matcher.for_each_match(0, &sentence, |id, span| occurrences.push((id, span)));
            for from in (0..text.len()).filter(|&i| text.is_char_boundary(i)) {
                let limit = second_part_limit(&text, from);
                for (id, second) in seconds.iter().enumerate() {
                    let expected = second_part_by_definition(&text, from, second);
                    let found_at = occurrences
                        .iter()
                        .find(|(i, s)| *i == id && s.start >= from && s.start < limit)
                        .map(|(_, s)| s.end);
                    assert_eq!(
                        found_at, expected,
                        "window: {second:?} after {from} in {text:?}"
                    );
                    found += usize::from(expected.is_some());
                }
            }
        }
        assert!(found > 1000, "{found}");
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
    fn class_words_are_lower_case_and_short_enough_to_look_up() {
        for &(list, class) in WORD_CLASSES {
            for w in list {
                assert!(
                    w.len() <= crate::phrases::SHORT_WORD && w.to_ascii_lowercase() == *w,
                    "{w}"
                );
                assert_ne!(word_classes(&w.to_uppercase()) & class, 0, "{w}");
            }
        }
        assert_eq!(word_classes("Wouldn't"), 0);
        assert_eq!(word_classes("WILL"), class::FUTURE);
        assert!(is_a("Under", class::BACKGROUND_WORD | class::PREPOSITION));
        assert!(!is_a("underwrote", class::BACKGROUND_WORD));
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

    /// Codes `text` as of 2024-06-21, the sample article's date.
    fn code_on(text: &str) -> Coding {
        CLASSIFIER.code(text, Some(time::macros::date!(2024 - 06 - 21)))
    }

    fn events(c: &Coding) -> Vec<String> {
        c.events
            .iter()
            .map(|e| {
                format!(
                    "{} {}>{} {}",
                    e.code,
                    e.source.as_deref().unwrap_or("?"),
                    e.target.as_deref().unwrap_or("?"),
                    e.modality.as_str()
                )
            })
            .collect()
    }

    #[test]
    fn verbs_match_in_every_form() {
        for text in [
            "Estonia expels a Russian diplomat.",
            "Estonia expelled a Russian diplomat.",
            "Estonia is expelling a Russian diplomat.",
        ] {
            assert_eq!(roots(&code(text)), ["16"], "{text}");
        }
        assert_eq!(roots(&code("Rebels kidnapped two soldiers.")), ["18"]);
        assert_eq!(
            roots(&code("Rwanda's president travelled to Kenya.")),
            ["04"]
        );
        assert_eq!(
            roots(&code("Rwanda's president traveled to Kenya.")),
            ["04"]
        );
    }

    #[test]
    fn a_noun_that_only_refers_to_an_event_is_not_coded() {
        // Background: a definite or possessive noun phrase, or one after "during", "in", ...
        assert!(code("Zaluzhnyi said the war had reached a stalemate.").events[0].code == "010");
        assert!(
            roots(&code(
                "Kim pledged support for Russia's invasion of Ukraine."
            )) == ["03"]
        );
        assert!(roots(&code("Thousands were killed during protests in Nairobi.")).is_empty());
        // Reported: governed by a support verb, or new ("a"), or bare.
        assert_eq!(
            roots(&code("Russia sent a strong warning to Seoul.")),
            ["13"]
        );
        assert_eq!(roots(&code("Beijing held talks with Hanoi.")), ["04"]);
        assert_eq!(
            roots(&code("A suicide bomber killed 15 Pakistani soldiers.")),
            ["18"]
        );
        assert_eq!(roots(&code("Protests erupted in Nairobi.")), ["14"]);
        // Amounts are not background: "tonnes of", "a new round of".
        assert_eq!(
            roots(&code(
                "The UAE airlifted tonnes of medical supplies to Libya."
            )),
            ["07"]
        );
        // Phrases that hold a cue but name no event.
        assert!(code("Seven aid workers were in Gaza.").events.is_empty());
    }

    #[test]
    fn explanations_name_the_entry_that_matched() {
        let c = code("Tonnes of medical supplies reached Libya after the UN fed the refugees.");
        let entries: Vec<&str> = c
            .events
            .iter()
            .filter_map(|e| CLASSIFIER.cue_entry(e))
            .collect();
        assert_eq!(
            entries,
            ["cue:073:medical supplies", "cue:073:fed ... refugees"]
        );
    }

    #[test]
    fn a_trailing_attribution_is_not_a_statement() {
        let c = code("Consumer prices in Turkey rose 65 percent, the statistics office said.");
        assert!(c.events.is_empty(), "{:?}", events(&c));
        let c = code_on("Moon Jae-in said dialogue with Pyongyang was the only way.");
        assert_eq!(events(&c), ["010 KORELI>? asserted"]);
        // The speaker of ", the Kremlin said" is neither source nor target of the event.
        let c = code("Russian forces shelled Kharkiv overnight, the Ukrainian military said.");
        assert_eq!(events(&c), ["194 RUSMIL>? asserted"]);
    }

    #[test]
    fn coordinated_subjects_participles_and_passives() {
        // The first member of a coordinated subject acts; for symmetric events the second is
        // the counterpart.
        assert_eq!(
            events(&code(
                "Qatar and Egypt mediated talks between Israel and Hamas."
            ))[0],
            "045 QAT>ISR asserted"
        );
        assert_eq!(
            events(&code(
                "Vietnam and the United States signed a strategic partnership."
            ))[0],
            "057 VNM>USA asserted"
        );
        // "Indian and US navies": a bare country coordinated with a country + role shares it.
        assert_eq!(
            codes(&code("Indian and US navies began joint exercises.")),
            ["INDMIL", "USAMIL"]
        );
        // A participle clause has the sentence's subject.
        let c = code("China demanded that the Philippines leave, calling its presence illegal.");
        assert_eq!(
            c.events.last().and_then(|e| e.source.as_deref()),
            Some("CHN")
        );
        // A passive's agent after "by" is the source, its subject the target.
        assert_eq!(
            events(&code(
                "Belarus's election was criticised by observers from the OSCE."
            )),
            ["111 IGOOSCE>BLR asserted"]
        );
        // "by" after a verb's object names who made the object, not the agent.
        assert_eq!(
            events(&code("Russia rejected a demand by Ukraine for talks.")),
            ["125 RUS>UKR asserted"]
        );
        // A role noun is not a verb: "forces" does not open "force ... to".
        assert_eq!(
            events(&code("Israeli forces laid siege to the hospital.")),
            ["191 ISRMIL>? asserted"]
        );
        // "from X" after a noun of saying, asking or threatening names its agent.
        assert_eq!(
            events(&code("Ukraine faced fresh threats from Russia on Monday.")),
            ["130 RUS>UKR asserted"]
        );
        // "to" before a noun phrase is a preposition: the participle is passive.
        let c = code("The dissident was sentenced to death in absentia by an Iranian court.");
        assert_eq!(c.events[0].source.as_deref(), Some("IRNJUD"));
        // "was prepared to lend" is not a passive.
        let c = code("The World Bank said it was prepared to lend Sri Lanka $700 million.");
        assert_eq!(c.events[0].source.as_deref(), Some("IGOWB"));
        // A state's unspecific attack is a fight (19), a group's an assault (18).
        assert_eq!(roots(&code("Russia attacked Ukrainian positions.")), ["19"]);
        assert_eq!(
            roots(&code("Al-Shabaab militants attacked a hotel.")),
            ["18"]
        );
    }

    #[test]
    fn unknown_names_in_actor_positions_are_kept_as_written() {
        let c = code("Wagner Group fighters seized the town of Bakhmut.");
        let e = &c.events[0];
        assert_eq!(
            (e.source.as_deref(), e.source_text.as_deref()),
            (None, Some("Wagner Group"))
        );
        assert_eq!(e.target_text.as_deref(), Some("Bakhmut"));
        // Known actors are codes, not text; a lone capitalised first word is not a name.
        let c = code("Russia attacked Ukraine.");
        assert_eq!(
            (
                c.events[0].source_text.as_ref(),
                c.events[0].target_text.as_ref()
            ),
            (None, None)
        );
        let c = code("Protesters attacked a police station.");
        assert_eq!(c.events[0].source_text, None);
        // In a passive the name before the cue is the one acted on.
        let c = code("The Azov Battalion was attacked by Wagner Group fighters.");
        let e = &c.events[0];
        assert_eq!(
            (e.source_text.as_deref(), e.target_text.as_deref()),
            (Some("Wagner Group"), Some("Azov Battalion"))
        );
    }

    #[test]
    fn an_attribution_and_an_appositive_need_their_shapes() {
        // A statement after an opening adverbial is a statement, not a trailing attribution.
        let c = code_on("On Monday, Moon Jae-in said the economy was strong.");
        assert_eq!(events(&c), ["010 KORELI>? asserted"]);
        // A conjunction after a person starts another actor, not a title of the person.
        let c = code("Putin met Kim Jong Un, and Russian officials praised the talks.");
        assert!(codes(&c).contains(&"RUSGOV"), "{:?}", codes(&c));
    }

    #[test]
    fn locations_titles_and_lists() {
        // A capital after a preposition of place is a location, not the government.
        assert_eq!(
            codes(&code("A bomb exploded near a hotel in Mogadishu.")),
            Vec::<&str>::new()
        );
        assert_eq!(
            codes(&code("Modi arrived in Washington.")),
            ["INDGOV", "USAGOV"]
        );
        // A title next to a person is the person.
        assert_eq!(
            codes(&code_on(
                "Former German chancellor Angela Merkel urged restraint."
            )),
            ["DEUELI"]
        );
        // "the foreign ministers of Japan, China and South Korea"
        assert_eq!(
            codes(&code(
                "The foreign ministers of Japan, China and South Korea met."
            )),
            ["JPNGOV", "CHNGOV", "KORGOV"]
        );
        // Non-state roles take the nationality of where they are, in subject position.
        assert_eq!(
            codes(&code("Unions in Argentina went on strike.")),
            ["ARGLAB"]
        );
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
