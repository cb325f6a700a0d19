//! Whole-word phrase matching: every occurrence of any dictionary phrase that starts and ends
//! on word boundaries, found in one pass over the sentence's words.
//!
//! A phrase that opens with a word character can only match where a word of the sentence
//! starts, and only if that whole word is the phrase's first word (a longer word would put a
//! word character where the phrase has a boundary). So the phrases are indexed by their first
//! word, and the sentence's words are looked up one by one: most words open no phrase and cost
//! one hash probe (for all the phrase sets at once); the few that do are compared in full.
//! This finds exactly the whole-word matches of an overlapping Aho-Corasick scan (a unit test
//! holds that against the `aho-corasick` crate) at a fraction of its cost with tens of
//! thousands of phrases, whose automaton falls out of the CPU caches between sentences.
//!
//! Matching is ASCII-case-insensitive, as the dictionaries are: the sentence is lower-cased
//! (ASCII only, so byte offsets are unchanged) once, and the phrases are stored lower-cased.

use newswire_shared::Span;

use crate::words::{char_at, char_before};
use rustc_hash::FxHashMap;

/// Word characters: letters and digits of any script.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Whether `span` of `text` starts and ends on word boundaries: no word character on either
/// side of a word character at its edges.
pub(crate) fn on_word_boundaries(text: &str, span: Span) -> bool {
    let back = |end: usize| (end > 0).then(|| char_before(text, end).0);
    let ahead = |at: usize| (at < text.len()).then(|| char_at(text, at).0);
    let (before, last) = (back(span.start), back(span.end));
    let (after, first) = (ahead(span.end), ahead(span.start));
    let open_before = !(before.is_some_and(is_word_char) && first.is_some_and(is_word_char));
    let open_after = !(after.is_some_and(is_word_char) && last.is_some_and(is_word_char));
    open_before && open_after
}

/// The longest word [`short_word_key`] packs, in bytes.
pub(crate) const SHORT_WORD: usize = 16;

/// `word` ASCII-lower-cased and packed into an integer, the key of sets of short lower-case
/// words: one integer hash and compare instead of a copy, a UTF-8 check and a string hash.
/// Equal keys mean the same word in some ASCII case. `None` if the word is longer than
/// [`SHORT_WORD`] bytes or holds a NUL byte (the padding), so none is on such a list.
pub(crate) fn short_word_key(word: &str) -> Option<u128> {
    let bytes = word.as_bytes();
    if bytes.len() > SHORT_WORD {
        return None;
    }
    if bytes.contains(&0) {
        return None;
    }
    // Copied into a fixed block and folded as a whole, not shifted in byte by byte.
    let mut block = [0u8; SHORT_WORD];
    block[..bytes.len()].copy_from_slice(bytes);
    block.make_ascii_lowercase();
    Some(u128::from_le_bytes(block))
}

/// A sentence prepared for matching: its ASCII-lower-cased copy and where its words are.
pub(crate) struct Sentence<'t> {
    pub text: &'t str,
    prepared: SentenceBuffers,
}

/// What a [`Sentence`] holds beside its text, handed on to the next sentence so that preparing
/// one allocates nothing once the buffers are large enough.
#[derive(Debug, Default)]
pub(crate) struct SentenceBuffers {
    /// The text with ASCII letters lower-cased: the same byte offsets.
    lower: String,
    /// Maximal runs of word characters, in order, each with the index's entry for it (the
    /// phrases it opens), if any.
    words: Vec<(Span, Option<u32>)>,
}

impl SentenceBuffers {
    pub const fn new() -> Self {
        Self {
            lower: String::new(),
            words: Vec::new(),
        }
    }

    /// The bytes they hold on to.
    pub fn capacity(&self) -> usize {
        self.lower.capacity() + self.words.capacity() * std::mem::size_of::<(Span, Option<u32>)>()
    }
}

impl<'t> Sentence<'t> {
    /// Reads `text`'s words and looks each up in `index` once, for all its phrase sets.
    #[cfg(test)]
    pub fn new(text: &'t str, index: &PhraseIndex) -> Self {
        Self::reusing(text, index, SentenceBuffers::default())
    }

    /// Reads `text`'s words and looks each up in `index` once, for all its phrase sets, in
    /// the buffers of an earlier sentence.
    pub fn reusing(text: &'t str, index: &PhraseIndex, buffers: SentenceBuffers) -> Self {
        let SentenceBuffers {
            mut lower,
            mut words,
        } = buffers;
        lower.clear();
        lower.push_str(text);
        lower.make_ascii_lowercase();
        words.clear();
        words.reserve(text.len() / 5);
        let mut push = |span: Span| {
            let entry = index.entry(&lower[span.start..span.end]);
            words.push((span, entry));
        };
        let mut start: Option<usize> = None;
        let mut i = 0;
        while i < text.len() {
            let (c, len) = char_at(text, i);
            match (is_word_char(c), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    push(Span::new(s, i));
                    start = None;
                }
                _ => {}
            }
            i += len;
        }
        if let Some(s) = start {
            push(Span::new(s, text.len()));
        }
        Self {
            text,
            prepared: SentenceBuffers { lower, words },
        }
    }

    /// Its buffers, for the next sentence.
    pub fn into_buffers(self) -> SentenceBuffers {
        self.prepared
    }
}

/// Which set of an index: the classifier keeps actor terms, cue first parts and cue second
/// parts in one index, so that each word of a sentence is looked up once.
pub(crate) type SetId = usize;

/// Sets of phrases, each phrase found wherever it stands as whole words.
#[derive(Debug)]
pub(crate) struct PhraseIndex {
    /// The hash of a first word (lower case) -> its entry. Words are compared by hash only:
    /// every phrase is compared in full where it may match, so two words sharing a hash
    /// only cost a failed comparison.
    by_first_word: FxHashMap<u64, u32>,
    /// Per entry and set, the range of `openers` holding the phrases opening with that word:
    /// entry `e` of set `s` is at `e * sets + s`.
    ranges: Vec<(u32, u32)>,
    /// The phrases by entry, set and position in their set; their bytes are laid out in
    /// `bytes` in the same order, so the phrases a word opens sit together in memory.
    openers: Vec<Opener>,
    bytes: Vec<u8>,
    sets: Vec<PhraseSet>,
}

#[derive(Debug, Clone, Copy)]
struct Opener {
    /// The phrase's position in its set.
    id: u32,
    /// Its ASCII-lower-cased bytes: `bytes[start..start + len]`.
    start: u32,
    len: u32,
    /// Its last byte: compared first, where most phrases sharing a first word differ,
    /// without reading `bytes`.
    last: u8,
}

#[derive(Debug)]
struct PhraseSet {
    /// Phrases that open with something other than a word character, ASCII-lower-cased
    /// with their position in the set: tried at every position (the built-in dictionaries
    /// have none).
    loose: Vec<(u32, Box<str>)>,
}

fn word_hash(word: &str) -> u64 {
    use std::hash::Hasher;
    let mut hasher = rustc_hash::FxHasher::default();
    hasher.write(word.as_bytes());
    hasher.finish()
}

impl PhraseIndex {
    /// Indexes each list of phrases as a set; a match reports the set and the phrase's
    /// position in its list. Empty phrases never match.
    pub fn new<S: AsRef<str>>(sets: &[&[S]]) -> Self {
        let mut entries: FxHashMap<u64, u32> = FxHashMap::default();
        // Per entry, per set, the phrases (position, lower-cased text).
        let mut lists: Vec<Vec<Vec<(u32, String)>>> = Vec::new();
        let mut built = Vec::with_capacity(sets.len());
        for (set, phrases) in sets.iter().enumerate() {
            let mut loose = Vec::new();
            for (i, phrase) in phrases.iter().enumerate() {
                let phrase = phrase.as_ref().to_ascii_lowercase();
                let id = u32::try_from(i).expect("fewer than 2^32 phrases");
                let first_word_len = phrase
                    .char_indices()
                    .find(|&(_, c)| !is_word_char(c))
                    .map_or(phrase.len(), |(at, _)| at);
                if first_word_len > 0 {
                    let next = u32::try_from(lists.len()).expect("fewer than 2^32 words");
                    let entry = *entries
                        .entry(word_hash(&phrase[..first_word_len]))
                        .or_insert(next);
                    if entry == next {
                        lists.push(vec![Vec::new(); sets.len()]);
                    }
                    lists[entry as usize][set].push((id, phrase));
                } else if !phrase.is_empty() {
                    loose.push((id, phrase.into_boxed_str()));
                }
            }
            built.push(PhraseSet { loose });
        }
        let mut ranges = Vec::with_capacity(lists.len() * sets.len());
        let mut openers = Vec::new();
        let mut bytes = Vec::new();
        let small = |n: usize| u32::try_from(n).expect("dictionaries under 4 GB");
        for per_set in lists {
            for list in per_set {
                let from = small(openers.len());
                for (id, phrase) in list {
                    openers.push(Opener {
                        id,
                        start: small(bytes.len()),
                        len: small(phrase.len()),
                        last: *phrase.as_bytes().last().expect("phrases are not empty"),
                    });
                    bytes.extend_from_slice(phrase.as_bytes());
                }
                ranges.push((from, small(openers.len())));
            }
        }
        Self {
            by_first_word: entries,
            ranges,
            openers,
            bytes,
            sets: built,
        }
    }

    fn entry(&self, lower_word: &str) -> Option<u32> {
        self.by_first_word.get(&word_hash(lower_word)).copied()
    }

    /// The phrases of `set` opening with the word whose entry is `entry`.
    fn opening(&self, entry: u32, set: SetId) -> &[Opener] {
        let (from, to) = self.ranges[entry as usize * self.sets.len() + set];
        &self.openers[from as usize..to as usize]
    }

    /// Calls `found(phrase, span)` for every whole-word occurrence of every phrase of `set`,
    /// by start and, at the same start, by phrase (occurrences may overlap).
    pub fn for_each_match(
        &self,
        set: SetId,
        sentence: &Sentence<'_>,
        mut found: impl FnMut(usize, Span),
    ) {
        let lower = sentence.prepared.lower.as_bytes();
        let mut try_at = |id: u32, phrase: &[u8], start: usize| {
            let end = start + phrase.len();
            if lower.get(start..end) == Some(phrase)
                && sentence.text.is_char_boundary(end)
                && on_word_boundaries(sentence.text, Span::new(start, end))
            {
                found(id as usize, Span::new(start, end));
            }
        };
        let bytes_of = |o: &Opener| &self.bytes[o.start as usize..(o.start + o.len) as usize];
        let loose = &self.sets[set].loose;
        if loose.is_empty() {
            for &(word, entry) in &sentence.prepared.words {
                if let Some(entry) = entry {
                    for o in self.opening(entry, set) {
                        // The last byte first, kept in the opener: most phrases sharing a
                        // first word differ there.
                        let end = word.start + o.len as usize;
                        if lower.get(end.wrapping_sub(1)) == Some(&o.last) {
                            try_at(o.id, bytes_of(o), word.start);
                        }
                    }
                }
            }
            return;
        }
        // Phrases opening with punctuation or space may start anywhere: merge them in by
        // position.
        let mut words = sentence.prepared.words.iter().peekable();
        for (at, _) in sentence.text.char_indices() {
            let mut here: Vec<(u32, &[u8])> =
                loose.iter().map(|(id, p)| (*id, p.as_bytes())).collect();
            if let Some(&(_, Some(entry))) = words.next_if(|(w, _)| w.start == at) {
                here.extend(self.opening(entry, set).iter().map(|o| (o.id, bytes_of(o))));
                here.sort_unstable_by_key(|&(id, _)| id);
            }
            for (id, phrase) in here {
                try_at(id, phrase, at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use aho_corasick::{AhoCorasickBuilder, MatchKind};
    use proptest::prelude::*;

    use super::*;

    /// A one-set index of `phrases`.
    fn index(phrases: &[&str]) -> PhraseIndex {
        PhraseIndex::new(&[phrases])
    }

    #[test]
    fn short_word_keys_ignore_ascii_case_only() {
        let key = short_word_key;
        assert_eq!(key("Would"), key("would"));
        assert_eq!(key("WOULD"), key("would"));
        assert_ne!(key("would"), key("could"));
        assert_ne!(key("will"), key("willing"));
        assert_ne!(key("Ünder"), key("ünder"), "only ASCII letters are folded");
        assert!(key("sixteen-letters!").is_some());
        assert_eq!(key("seventeen-letters"), None);
        assert_eq!(key("but\0"), None, "the padding byte is no word's");
        assert_eq!(key("\0but"), None);
        assert_eq!(key("sixteen-letters\0"), None);
        assert_eq!(key("\u{1}\0"), None);
        assert!(key("\u{1}\u{80}").is_some());
        assert_ne!(key(""), key("a"));
    }

    proptest! {
        /// The packed key is the word's lower-cased bytes, little-endian, zero-padded.
        #[test]
        fn short_word_keys_are_the_padded_lower_case_bytes(word in "[a-zA-Z\\x00-\\x02\\x7f-\\u{100}]{0,17}") {
            let expected = (word.len() <= SHORT_WORD && !word.contains('\0')).then(|| {
                word.bytes()
                    .enumerate()
                    .fold(0u128, |k, (i, b)| k | u128::from(b.to_ascii_lowercase()) << (8 * i))
            });
            prop_assert_eq!(short_word_key(&word), expected);
        }
    }

    fn matches(m: &PhraseIndex, text: &str) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        m.for_each_match(0, &Sentence::new(text, m), |id, s| {
            out.push((s.start, id, s.end));
        });
        out
    }

    /// What an overlapping ASCII-case-insensitive Aho-Corasick scan keeps after the
    /// whole-word filter, ordered as the matcher reports.
    fn oracle(phrases: &[&str], text: &str) -> Vec<(usize, usize, usize)> {
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(phrases)
            .expect("an automaton");
        let mut out: Vec<_> = ac
            .find_overlapping_iter(text)
            .filter(|m| on_word_boundaries(text, Span::new(m.start(), m.end())))
            .map(|m| (m.start(), m.pattern().as_usize(), m.end()))
            .collect();
        out.sort_unstable();
        out
    }

    const PHRASES: &[&str] = &[
        "warn",
        "warned",
        "warning shots",
        "fired warning shots",
        "lodge a protest",
        "U.S.",
        "us",
        "South Korea",
        "South Korea's",
        "Korea",
        "North Korean",
        "Côte d'Ivoire",
        "cease-fire",
        "-backed",
        "'s",
        "Kim Jong Un",
        "kim",
        "sign",
        "signed",
        "ΕΕ",
        "  ",
    ];

    #[test]
    fn finds_whole_words_in_any_ascii_case() {
        let m = index(&["warn", "lodge a protest", "Kim Jong Un", "U.S."]);
        assert_eq!(
            matches(
                &m,
                "Forewarned, KIM JONG UN warns; they LODGE A PROTEST with the U.S."
            ),
            vec![(12, 2, 23), (36, 1, 51), (61, 3, 65)],
        );
        assert_eq!(matches(&m, "Kim Jong Unified"), vec![]);
        assert_eq!(matches(&m, "lodge a  protest"), vec![]);
    }

    #[test]
    fn sets_share_words_but_not_phrases() {
        let m = PhraseIndex::new(&[&["South Korea", "Korea"][..], &["korea", "south"][..]]);
        let s = Sentence::new("South Korea", &m);
        let mut found = [Vec::new(), Vec::new()];
        for (set, out) in found.iter_mut().enumerate() {
            m.for_each_match(set, &s, |id, span| out.push((id, span.start, span.end)));
        }
        assert_eq!(found[0], vec![(0, 0, 11), (1, 6, 11)]);
        assert_eq!(found[1], vec![(1, 0, 5), (0, 6, 11)]);
    }

    #[test]
    fn phrases_opening_with_punctuation_are_found_anywhere() {
        let m = index(&["'s", "-backed", "Korea"]);
        assert_eq!(
            matches(&m, "Korea's Russia-backed"),
            vec![(0, 2, 5), (5, 0, 7), (14, 1, 21)],
        );
    }

    #[test]
    fn agrees_with_the_dictionary_sentences() {
        let m = index(PHRASES);
        for text in [
            "South Korea's navy fired warning shots as North Korean troops crossed.",
            "The U.S. and us: Côte d'Ivoire signed a cease-fire, Kim Jong Un warned.",
            "Russian-backed forces; KIM signs. ΕΕ ΕΕΕ",
        ] {
            assert_eq!(matches(&m, text), oracle(PHRASES, text), "{text}");
        }
    }

    proptest! {
        #[test]
        fn agrees_with_aho_corasick_on_any_text(
            words in proptest::collection::vec(
                prop_oneof![
                    proptest::sample::select(PHRASES.to_vec()).prop_map(str::to_owned),
                    proptest::sample::select(
                        vec!["South", "KOREA", "korean", "'", "’s", "-", ".", ",", " ", "  ",
                             "d'Ivoire", "côte", "Côte", "warnings", "fired", "e", "Ε"]
                    ).prop_map(str::to_owned),
                    "\\PC{0,4}",
                ],
                0..24,
            ),
            glue in proptest::collection::vec(proptest::sample::select(vec!["", " ", "-", "'"]), 24),
        ) {
            let text: String = words
                .iter()
                .zip(&glue)
                .flat_map(|(w, g)| [w.as_str(), g])
                .collect();
            let m = index(PHRASES);
            prop_assert_eq!(matches(&m, &text), oracle(PHRASES, &text));
        }
    }
}
