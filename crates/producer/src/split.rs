//! Sentence splitting for news text.
//!
//! Returns byte spans into the original text, trimmed of surrounding white space, so every
//! sentence maps back to exactly where it was. Rules, in order:
//! - a blank line always ends a sentence; a single line break ends one too (headlines,
//!   bylines, list items), unless the text is hard-wrapped, where only blank lines do;
//! - `.`, `!`, `?` and `…`, with any closing quotes or brackets after them, end a sentence
//!   when white space and then something other than a lower-case letter follows;
//! - not inside quoted speech, unless the quote closes right after the terminator;
//! - not after a known abbreviation (`Mr.`, `Gen.`, `Jan.`), an initial (`J.`), a list
//!   number at the start of a line, or a dotted acronym (`U.S.`) that is followed by a
//!   word that does not usually start a sentence.

use newswire_shared::Span;

/// Abbreviations after which a full stop does not end a sentence (lower case, no dot).
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "messrs", "dr", "prof", "gen", "lt", "col", "maj", "capt", "cmdr", "sgt",
    "cpl", "pvt", "adm", "brig", "gov", "sen", "rep", "reps", "rev", "hon", "pres", "amb", "st",
    "jr", "sr", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun", "inc", "corp",
    "co", "ltd", "plc", "no", "nos", "vs", "v", "approx", "dept", "est", "fig", "mt", "ft", "ave",
    "blvd", "rd", "art", "sec", "vol", "ch", "op", "cf",
];

/// Words that usually start a sentence: after a dotted acronym such as `U.S.`, one of these
/// means the acronym ended the sentence.
const SENTENCE_STARTERS: &[&str] = &[
    "a",
    "an",
    "the",
    "he",
    "she",
    "it",
    "its",
    "they",
    "we",
    "i",
    "you",
    "his",
    "her",
    "their",
    "our",
    "this",
    "that",
    "these",
    "those",
    "there",
    "in",
    "on",
    "at",
    "but",
    "and",
    "or",
    "after",
    "before",
    "while",
    "when",
    "if",
    "however",
    "meanwhile",
    "officials",
    "also",
    "still",
    "yet",
    "as",
    "for",
    "some",
    "many",
    "most",
    "no",
    "not",
    "what",
    "why",
    "how",
];

/// Splits `text` into sentence spans (byte offsets into `text`).
pub fn split_sentences(text: &str) -> Vec<Span> {
    let wrapped = is_hard_wrapped(text);
    let mut spans = Vec::new();
    let mut start = 0;
    let mut quote_depth: u32 = 0;
    let mut line_start = 0;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        match c {
            '“' => quote_depth += 1,
            '”' => quote_depth = quote_depth.saturating_sub(1),
            '"' => {
                if opens_quote(text, i) {
                    quote_depth += 1;
                } else {
                    quote_depth = quote_depth.saturating_sub(1);
                }
            }
            '\n' => {
                let blank_line = text[line_start..i].trim().is_empty();
                let next_blank = text[i + 1..]
                    .split('\n')
                    .next()
                    .is_some_and(|l| l.trim().is_empty());
                if !wrapped || blank_line || next_blank {
                    push_span(text, start, i, &mut spans);
                    start = i + 1;
                    // A paragraph break also closes a quote left open by a missing mark.
                    quote_depth = 0;
                }
                line_start = i + 1;
            }
            '.' | '!' | '?' | '…' => {
                // Swallow further terminators and closing quotes or brackets.
                let mut end = i + c.len_utf8();
                let mut closed_quote = false;
                while let Some(&(j, next)) = iter.peek() {
                    match next {
                        '.' | '!' | '?' | '…' | ')' | ']' | '’' | '\'' => {}
                        '”' => {
                            quote_depth = quote_depth.saturating_sub(1);
                            closed_quote = true;
                        }
                        '"' if !opens_quote(text, j) => {
                            quote_depth = quote_depth.saturating_sub(1);
                            closed_quote = true;
                        }
                        _ => break,
                    }
                    end = j + next.len_utf8();
                    iter.next();
                }
                let rest = &text[end..];
                let Some(next_word_offset) = rest.find(|ch: char| !ch.is_whitespace()) else {
                    continue; // end of text: the final push takes it
                };
                if next_word_offset == 0 {
                    continue; // "3.5", "U.S": no white space after the mark
                }
                if rest[..next_word_offset].contains('\n') {
                    continue; // the line break rule decides
                }
                if quote_depth > 0 && !closed_quote {
                    continue;
                }
                let next_word = &rest[next_word_offset..];
                if next_word.starts_with(|ch: char| ch.is_lowercase()) {
                    continue;
                }
                if c == '.' && !closed_quote && end == i + 1 {
                    let word = word_before(text, i, line_start);
                    if is_abbreviation(word, text, i, line_start, next_word) {
                        continue;
                    }
                }
                push_span(text, start, end, &mut spans);
                start = end;
            }
            _ => {}
        }
    }
    push_span(text, start, text.len(), &mut spans);
    spans
}

/// Whether the `"` at byte `i` opens a quotation (it follows white space, an opening bracket or
/// the start of the text).
fn opens_quote(text: &str, i: usize) -> bool {
    text[..i]
        .chars()
        .next_back()
        .is_none_or(|p| p.is_whitespace() || matches!(p, '(' | '[' | '—' | '–' | '-' | ':'))
}

/// The word ending right before the full stop at byte `dot`.
fn word_before(text: &str, dot: usize, line_start: usize) -> &str {
    let from = text[line_start..dot]
        .rfind(|ch: char| ch.is_whitespace() || matches!(ch, '(' | '[' | '“' | '"' | '—'))
        .map_or(line_start, |p| {
            line_start
                + p
                + text[line_start + p..]
                    .chars()
                    .next()
                    .map_or(1, char::len_utf8)
        });
    &text[from..dot]
}

fn is_abbreviation(word: &str, text: &str, dot: usize, line_start: usize, next: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let lower = word.to_lowercase();
    if ABBREVIATIONS.contains(&lower.as_str()) {
        return true;
    }
    let mut chars = word.chars();
    if let (Some(first), None) = (chars.next(), chars.next())
        && first.is_uppercase()
    {
        return true; // an initial: "J. Smith", "Kim J. Un"
    }
    if word.bytes().all(|b| b.is_ascii_digit())
        && text[line_start..dot - word.len()].trim().is_empty()
    {
        return true; // a numbered list item
    }
    if word.contains('.') && word.chars().all(|ch| ch.is_alphabetic() || ch == '.') {
        // A dotted acronym such as "U.S": it ends the sentence only before a usual starter.
        let next_word: String = next
            .chars()
            .take_while(|ch| ch.is_alphabetic())
            .flat_map(char::to_lowercase)
            .collect();
        return !SENTENCE_STARTERS.contains(&next_word.as_str());
    }
    false
}

/// Hard-wrapped text: most lines that do not end a sentence are of similar, typical width.
fn is_hard_wrapped(text: &str) -> bool {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() < 3 {
        return false;
    }
    let open = lines
        .iter()
        .filter(|l| !l.ends_with(['.', '!', '?', '”', '"', ':']))
        .count();
    let wrapped_width = lines
        .iter()
        .filter(|l| !l.ends_with(['.', '!', '?', '”', '"', ':']))
        .filter(|l| (50..=100).contains(&l.chars().count()))
        .count();
    open >= 2 && wrapped_width * 2 > open && lines.iter().all(|l| l.chars().count() <= 120)
}

fn push_span(text: &str, start: usize, end: usize, spans: &mut Vec<Span>) {
    let slice = &text[start..end];
    let trimmed_start = start + (slice.len() - slice.trim_start().len());
    let trimmed_end = start + slice.trim_end().len();
    if trimmed_end > trimmed_start
        && text[trimmed_start..trimmed_end]
            .chars()
            .any(char::is_alphanumeric)
    {
        spans.push(Span::new(trimmed_start, trimmed_end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<&str> {
        split_sentences(text)
            .into_iter()
            .map(|s| &text[s.start..s.end])
            .collect()
    }

    #[test]
    fn abbreviations_and_initials_do_not_split() {
        assert_eq!(
            split("Mr. Kim met Gen. Park on Jan. 5 in Seoul. The talks ended."),
            [
                "Mr. Kim met Gen. Park on Jan. 5 in Seoul.",
                "The talks ended."
            ]
        );
        assert_eq!(
            split("U.S. officials met U.N. envoys. J. R. Smith said so."),
            ["U.S. officials met U.N. envoys.", "J. R. Smith said so."]
        );
        assert_eq!(
            split("Troops left the U.S. The move surprised many."),
            ["Troops left the U.S.", "The move surprised many."]
        );
        assert_eq!(
            split("Aid rose 3.5% to $1.2 billion. Prices fell."),
            ["Aid rose 3.5% to $1.2 billion.", "Prices fell."]
        );
    }

    #[test]
    fn quoted_speech_stays_whole() {
        assert_eq!(
            split("He said, “We will fight. We will win.” Then he left."),
            ["He said, “We will fight. We will win.”", "Then he left."]
        );
        assert_eq!(
            split("She warned: \"This is a mistake. Stop now.\" Officials agreed."),
            [
                "She warned: \"This is a mistake. Stop now.\"",
                "Officials agreed."
            ]
        );
        assert_eq!(
            split("Putin declared, “Moscow will decide,” in response. Seoul waited."),
            [
                "Putin declared, “Moscow will decide,” in response.",
                "Seoul waited."
            ]
        );
    }

    #[test]
    fn lines_headlines_and_lists() {
        assert_eq!(
            split(
                "Putin warns Seoul\n\nMoscow has threatened Seoul. It waits.\n1. First point\n2. Second point"
            ),
            [
                "Putin warns Seoul",
                "Moscow has threatened Seoul.",
                "It waits.",
                "1. First point",
                "2. Second point"
            ]
        );
    }

    #[test]
    fn hard_wrapped_paragraphs_join_lines() {
        let text = "The foreign ministers of both countries met on Tuesday in the capital\nto discuss the border dispute that has strained relations for years\nand agreed to meet again. Talks will resume in May.\n\nA second paragraph starts here.";
        let got = split(text);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].starts_with("The foreign") && got[0].ends_with("meet again."));
        assert_eq!(got[1], "Talks will resume in May.");
    }

    #[test]
    fn lower_case_continuation_and_ellipsis() {
        assert_eq!(
            split("Is it war? no one knows… The end."),
            ["Is it war? no one knows…", "The end."]
        );
    }

    #[test]
    fn nothing_but_punctuation_yields_nothing() {
        assert!(split("  \n*** — ***\n").is_empty());
        assert!(split("").is_empty());
    }

    #[test]
    fn spans_are_trimmed_and_on_char_boundaries() {
        let text = "  «Привет». Да!  Ünïcødé text here.  ";
        for span in split_sentences(text) {
            assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
            let s = &text[span.start..span.end];
            assert_eq!(s, s.trim());
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn check(text: &str) -> Result<(), TestCaseError> {
        let spans = split_sentences(text);
        let mut last_end = 0;
        for span in spans {
            prop_assert!(span.start >= last_end && span.start < span.end && span.end <= text.len());
            prop_assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
            let sentence = &text[span.start..span.end];
            prop_assert_eq!(sentence, sentence.trim());
            prop_assert!(sentence.chars().any(char::is_alphanumeric));
            last_end = span.end;
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn spans_hold_on_arbitrary_text(text in any::<String>()) {
            check(&text)?;
        }

        #[test]
        fn spans_hold_on_news_like_text(text in "([A-Z][a-z]{0,8}|[a-z]{1,8}|U\\.S\\.|Mr\\.|[0-9]{1,4}(\\.[0-9])?|[ .,!?;:\"“”'’()\\n…—-]){0,80}") {
            check(&text)?;
        }

        #[test]
        fn every_non_blank_word_lands_in_a_sentence(words in proptest::collection::vec("[A-Za-z]{1,10}", 1..40)) {
            let text = words.join(" ") + ".";
            let spans = split_sentences(&text);
            let covered: usize = spans.iter().map(|s| s.len()).sum();
            prop_assert_eq!(covered, text.len());
        }
    }
}
