//! The day a sentence's event happened, resolved against the article's publication date.
//!
//! Recognised, first match in the sentence wins:
//! - explicit dates: "June 9, 2024", "9 June 2024", "2024-06-09", "Jan. 5, 2025", "Sept. 3";
//! - month and day without a year ("on June 9", "9 June"): the year that puts the date
//!   nearest the anchor, but never more than about two months after it (before it, in a
//!   future-tense sentence);
//! - "today", "tonight", "this morning/afternoon/evening"; "yesterday", "last night";
//!   "tomorrow"; "the day before yesterday"; "the day after tomorrow";
//! - weekdays ("on Thursday", "last Thursday", "next Thursday", "Thursday's meeting"): the
//!   most recent such day on or before the anchor, or the next one after it when the sentence
//!   speaks of the future; "last" is always strictly before, "next" strictly after.
//!
//! Whether a sentence speaks of the future is read from the nearest tense marker before the
//! date in its clause ("will", "'ll", "would", "is to", "is expected to", "plans to", "is
//! scheduled to", "is due to", "next" against "said", "met" or another past form), or, when
//! the clause has none, from the first marker after the date ("On Thursday, leaders will
//! meet").
//!
//! Words that only look like dates are skipped: "may" is a month only capitalised and with a
//! day ("May 5", "on 5 May", "5 May 2024"), "march" only capitalised and with a day,
//! weekdays only capitalised and not in names ("Sunday Times", "Bloody Sunday", "Mail on
//! Sunday"), "Today" not in "USA Today".

use time::{Date, Duration, Month, Weekday};

use crate::dateline::month_named;

/// A date named in a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventDate {
    /// The resolved day.
    pub date: Date,
    /// Byte offset where the date phrase starts in the sentence ("last Thursday", "June 9,
    /// 2024"; a leading "on" is not part of it).
    pub start: usize,
    /// Byte offset just past the date phrase.
    pub end: usize,
}

/// How far either side of the anchor a date without a year may land, in days.
const YEARLESS_WINDOW: i64 = 61;

/// Weekdays that are part of a name when one of these words comes before.
const WEEKDAY_NAME_BEFORE: &[&str] = &[
    "bloody", "black", "good", "easter", "super", "ash", "holy", "cyber", "palm", "maundy",
    "shrove", "whit", "giving", "fat",
];

/// Weekdays that are part of a name when one of these words comes after ("Sunday Times").
const WEEKDAY_NAME_AFTER: &[&str] = &[
    "times",
    "telegraph",
    "express",
    "mirror",
    "post",
    "herald",
    "mail",
    "independent",
    "star",
    "world",
    "tribune",
    "observer",
];

/// Words that mark a sentence (or clause) as speaking of the future.
const FUTURE_WORDS: &[&str] = &[
    "will",
    "shall",
    "would",
    "expected",
    "scheduled",
    "slated",
    "planned",
    "plans",
    "plan",
    "planning",
    "intends",
    "aims",
    "expect",
    "expects",
    "hopes",
    "wants",
    "next",
    "upcoming",
    "tomorrow",
];

/// Irregular past forms (regular ones end in "-ed").
const PAST_WORDS: &[&str] = &[
    "said",
    "told",
    "met",
    "held",
    "began",
    "came",
    "went",
    "left",
    "fought",
    "struck",
    "shot",
    "sent",
    "took",
    "gave",
    "made",
    "saw",
    "spoke",
    "wrote",
    "won",
    "lost",
    "fell",
    "rose",
    "broke",
    "was",
    "were",
    "had",
    "did",
    "been",
    "ago",
    "last",
    "yesterday",
    "flew",
    "ran",
    "drew",
    "threw",
    "led",
    "sought",
    "brought",
    "thought",
    "knew",
    "grew",
    "chose",
];

/// Forms of "be" that make "due", "set" and "to" future markers ("is due to", "are set to",
/// "is to visit").
const BE_FORMS: &[&str] = &["is", "are", "am", "be", "s", "re"];

/// Finds the first date expression in `sentence` and resolves it against `anchor`, the
/// article's publication date.
pub fn event_date(sentence: &str, anchor: Date) -> Option<EventDate> {
    let tokens = tokenize(sentence);
    (0..tokens.len()).find_map(|k| date_at(&tokens, k, anchor))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Number,
    Punct,
}

/// A word, a number or a punctuation mark, with its byte span.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    start: usize,
    end: usize,
}

impl Token<'_> {
    fn is_word(&self, word: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(word)
    }

    fn is_punct(&self, mark: &str) -> bool {
        self.kind == Kind::Punct && self.text == mark
    }

    fn capitalised(&self) -> bool {
        self.kind == Kind::Word && self.text.starts_with(char::is_uppercase)
    }

    fn number(&self) -> Option<u32> {
        (self.kind == Kind::Number && self.text.len() <= 4)
            .then(|| self.text.parse().ok())
            .flatten()
    }
}

/// Splits a sentence into runs of letters, runs of ASCII digits and single other characters;
/// white space separates tokens and is dropped.
fn tokenize(sentence: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut chars = sentence.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        let kind = if c.is_alphabetic() {
            Kind::Word
        } else if c.is_ascii_digit() {
            Kind::Number
        } else {
            Kind::Punct
        };
        let mut end = start + c.len_utf8();
        if kind != Kind::Punct {
            while let Some(&(j, n)) = chars.peek() {
                let same = match kind {
                    Kind::Word => n.is_alphabetic(),
                    _ => n.is_ascii_digit(),
                };
                if !same {
                    break;
                }
                end = j + n.len_utf8();
                chars.next();
            }
        }
        tokens.push(Token {
            kind,
            text: &sentence[start..end],
            start,
            end,
        });
    }
    tokens
}

/// The date expression starting at token `k`, if any.
fn date_at(tokens: &[Token<'_>], k: usize, anchor: Date) -> Option<EventDate> {
    relative_day(tokens, k, anchor)
        .or_else(|| iso_date(tokens, k))
        .or_else(|| month_first(tokens, k, anchor))
        .or_else(|| day_first(tokens, k, anchor))
        .or_else(|| weekday(tokens, k, anchor))
}

fn span(date: Date, tokens: &[Token<'_>], first: usize, last: usize) -> EventDate {
    EventDate {
        date,
        start: tokens[first].start,
        end: tokens[last].end,
    }
}

fn shift(anchor: Date, days: i64) -> Option<Date> {
    anchor.checked_add(Duration::days(days))
}

/// "today", "yesterday", "last night", "the day before yesterday" and the like.
fn relative_day(tokens: &[Token<'_>], k: usize, anchor: Date) -> Option<EventDate> {
    let word = |i: usize, w: &str| tokens.get(i).is_some_and(|t| t.is_word(w));
    if word(k, "the") && word(k + 1, "day") && (word(k + 2, "before") || word(k + 2, "after")) {
        let offset = if word(k + 2, "before") && word(k + 3, "yesterday") {
            Some(-2)
        } else if word(k + 2, "after") && word(k + 3, "tomorrow") {
            Some(2)
        } else {
            None
        };
        if let Some(days) = offset {
            return Some(span(shift(anchor, days)?, tokens, k, k + 3));
        }
    }
    if word(k, "this")
        && (word(k + 1, "morning") || word(k + 1, "afternoon") || word(k + 1, "evening"))
    {
        return Some(span(anchor, tokens, k, k + 1));
    }
    if word(k, "last") && word(k + 1, "night") {
        return Some(span(shift(anchor, -1)?, tokens, k, k + 1));
    }
    let days = if word(k, "today") || word(k, "tonight") {
        // "USA Today" is a newspaper.
        if word(k, "today") && k > 0 && tokens[k - 1].text == "USA" {
            return None;
        }
        0
    } else if word(k, "yesterday") {
        -1
    } else if word(k, "tomorrow") {
        1
    } else {
        return None;
    };
    Some(span(shift(anchor, days)?, tokens, k, k))
}

/// "2024-06-09": four, two and two digits joined by hyphens.
fn iso_date(tokens: &[Token<'_>], k: usize) -> Option<EventDate> {
    let parts = tokens.get(k..k + 5)?;
    let glued = parts.windows(2).all(|w| w[0].end == w[1].start);
    let shape = parts[0].kind == Kind::Number
        && parts[0].text.len() == 4
        && parts[1].is_punct("-")
        && parts[2].kind == Kind::Number
        && parts[2].text.len() == 2
        && parts[3].is_punct("-")
        && parts[4].kind == Kind::Number
        && parts[4].text.len() == 2;
    // Glued to more digits it is something else: a phone number, a range.
    let followed = tokens
        .get(k + 5)
        .is_some_and(|t| t.start == parts[4].end && (t.kind != Kind::Punct || t.text == "-"));
    if !glued || !shape || followed {
        return None;
    }
    let year = i32::try_from(parts[0].number()?).ok()?;
    let month = Month::try_from(u8::try_from(parts[2].number()?).ok()?).ok()?;
    let day = u8::try_from(parts[4].number()?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    Some(span(date, tokens, k, k + 4))
}

/// A month at token `k` ("June", "Jan.", "Sept"): the month and the index of its last token.
fn month_token(tokens: &[Token<'_>], k: usize) -> Option<(Month, usize)> {
    let token = tokens.get(k)?;
    if token.kind != Kind::Word {
        return None;
    }
    let month = month_named(token.text)?;
    let dotted = tokens
        .get(k + 1)
        .is_some_and(|t| t.is_punct(".") && t.start == token.end);
    Some((month, if dotted { k + 1 } else { k }))
}

/// A day of the month at token `k` (1 to 31, an ordinal suffix allowed): the day and the
/// index of its last token.
fn day_token(tokens: &[Token<'_>], k: usize) -> Option<(u8, usize)> {
    let token = tokens.get(k)?;
    if token.kind != Kind::Number || token.text.len() > 2 {
        return None;
    }
    let day = u8::try_from(token.number()?).ok()?;
    if !(1..=31).contains(&day) {
        return None;
    }
    let mut last = k;
    if let Some(next) = tokens.get(k + 1).filter(|t| t.start == token.end) {
        if next.kind == Kind::Word
            && ["st", "nd", "rd", "th"]
                .iter()
                .any(|s| next.text.eq_ignore_ascii_case(s))
        {
            last = k + 1;
        } else if matches!(next.text, "." | "," | ":" | "%")
            && tokens
                .get(k + 2)
                .is_some_and(|t| t.kind == Kind::Number && t.start == next.end)
        {
            return None; // "9.5", "9,000", "9:30": not a day
        }
    }
    Some((day, last))
}

/// A four-digit year at token `k`, 1900 to 2100.
fn year_token(tokens: &[Token<'_>], k: usize) -> Option<i32> {
    let token = tokens.get(k)?;
    if token.kind != Kind::Number || token.text.len() != 4 {
        return None;
    }
    let year = i32::try_from(token.number()?).ok()?;
    (1900..=2100).contains(&year).then_some(year)
}

/// "June 9", "June 9, 2024", "Jan. 5 2025", "Sept. 3rd".
fn month_first(tokens: &[Token<'_>], k: usize, anchor: Date) -> Option<EventDate> {
    let (month, month_last) = month_token(tokens, k)?;
    let (day, day_last) = day_token(tokens, month_last + 1)?;
    let comma = usize::from(tokens.get(day_last + 1).is_some_and(|t| t.is_punct(",")));
    if let Some(year) = year_token(tokens, day_last + 1 + comma) {
        let date = Date::from_calendar_date(year, month, day).ok()?;
        return Some(span(date, tokens, k, day_last + 1 + comma));
    }
    let date = yearless(month, day, anchor, is_future(tokens, k, day_last))?;
    Some(span(date, tokens, k, day_last))
}

/// "9 June", "9 June 2024", "9th of June". A capitalised "May" after a number is a month only
/// with a year after it or a preposition before the number ("on 5 May").
fn day_first(tokens: &[Token<'_>], k: usize, anchor: Date) -> Option<EventDate> {
    let (day, day_last) = day_token(tokens, k)?;
    // Glued to what comes before it, the number belongs to something else ("$9", "No.9").
    if k > 0 && tokens[k - 1].end == tokens[k].start {
        return None;
    }
    let of = usize::from(tokens.get(day_last + 1).is_some_and(|t| t.is_word("of")));
    let (month, month_last) = month_token(tokens, day_last + 1 + of)?;
    let year = year_token(tokens, month_last + 1);
    if month == Month::May && year.is_none() {
        let preposition = k > 0
            && [
                "on", "since", "until", "by", "from", "before", "after", "of", "to",
            ]
            .iter()
            .any(|p| tokens[k - 1].is_word(p));
        if !preposition {
            return None;
        }
    }
    if let Some(year) = year {
        let date = Date::from_calendar_date(year, month, day).ok()?;
        return Some(span(date, tokens, k, month_last + 1));
    }
    let date = yearless(month, day, anchor, is_future(tokens, k, month_last))?;
    Some(span(date, tokens, k, month_last))
}

/// The year for a month and day given without one: nearest the anchor, but not more than
/// [`YEARLESS_WINDOW`] days after it (before it, when the sentence speaks of the future).
fn yearless(month: Month, day: u8, anchor: Date, future: bool) -> Option<Date> {
    let window = Duration::days(YEARLESS_WINDOW);
    [anchor.year() - 1, anchor.year(), anchor.year() + 1]
        .into_iter()
        .filter_map(|year| Date::from_calendar_date(year, month, day).ok())
        .filter(|&date| {
            if future {
                date >= anchor - window
            } else {
                date <= anchor + window
            }
        })
        .min_by_key(|&date| (date - anchor).abs())
}

/// "Thursday", "last Thursday", "next Thursday", "this Thursday", "Thursday's".
fn weekday(tokens: &[Token<'_>], k: usize, anchor: Date) -> Option<EventDate> {
    let modifier = ["last", "next", "this"]
        .into_iter()
        .find(|m| tokens[k].is_word(m));
    let day_at = if modifier.is_some() { k + 1 } else { k };
    let token = tokens.get(day_at)?;
    if !token.capitalised() {
        return None;
    }
    let day = weekday_named(token.text)?;
    if modifier.is_none() {
        let before = day_at.checked_sub(1).and_then(|i| tokens.get(i));
        if before.is_some_and(|t| WEEKDAY_NAME_BEFORE.iter().any(|w| t.is_word(w))) {
            return None;
        }
        // "the Mail on Sunday", "the Independent on Sunday"
        let paper = day_at.checked_sub(2).and_then(|i| tokens.get(i));
        if before.is_some_and(|t| t.is_word("on"))
            && paper.is_some_and(|t| t.text == "Mail" || t.text == "Independent")
        {
            return None;
        }
    }
    let after = tokens.get(day_at + 1);
    if after.is_some_and(|t| t.capitalised() && WEEKDAY_NAME_AFTER.iter().any(|w| t.is_word(w))) {
        return None;
    }
    let ahead = i64::from(
        (7 + day.number_days_from_monday() - anchor.weekday().number_days_from_monday()) % 7,
    );
    let days = match modifier {
        Some("last") => -(if ahead == 0 { 7 } else { 7 - ahead }),
        Some("next") => next_after(ahead),
        _ if is_future(tokens, k, day_at) => next_after(ahead),
        _ => -((7 - ahead) % 7),
    };
    Some(span(shift(anchor, days)?, tokens, k, day_at))
}

/// Days from the anchor to the next such weekday strictly after it, given how many days
/// ahead it is (0 to 6).
fn next_after(ahead: i64) -> i64 {
    if ahead == 0 { 7 } else { ahead }
}

fn weekday_named(word: &str) -> Option<Weekday> {
    let lower = word.to_ascii_lowercase();
    let day = match lower.as_str() {
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        "sunday" => Weekday::Sunday,
        _ => return None,
    };
    Some(day)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tense {
    Future,
    Past,
}

/// Whether the date phrase `tokens[first..=last]` sits in a clause that speaks of the future.
fn is_future(tokens: &[Token<'_>], first: usize, last: usize) -> bool {
    // The nearest marker before the date, within its clause, decides.
    for i in (0..first).rev() {
        if is_clause_break(&tokens[i]) {
            break;
        }
        if let Some(tense) = tense_of(tokens, i) {
            return tense == Tense::Future;
        }
    }
    // Otherwise the first marker after it ("On Thursday, leaders will meet").
    (last + 1..tokens.len())
        .find_map(|i| tense_of(tokens, i))
        .is_some_and(|tense| tense == Tense::Future)
}

fn is_clause_break(token: &Token<'_>) -> bool {
    token.kind == Kind::Punct
        && matches!(
            token.text,
            "," | ";" | ":" | "(" | ")" | "—" | "–" | "\"" | "“" | "”"
        )
}

/// The tense a word marks, if it marks one.
fn tense_of(tokens: &[Token<'_>], i: usize) -> Option<Tense> {
    let token = &tokens[i];
    if token.kind != Kind::Word {
        return None;
    }
    let after_be = i
        .checked_sub(1)
        .and_then(|p| tokens.get(p))
        .is_some_and(|t| BE_FORMS.iter().any(|b| t.is_word(b)));
    let word = token.text;
    // "'ll", "’ll": the contraction of "will".
    if word.eq_ignore_ascii_case("ll")
        && i > 0
        && matches!(tokens[i - 1].text, "'" | "’")
        && tokens[i - 1].end == token.start
    {
        return Some(Tense::Future);
    }
    if ["due", "set", "to", "going"]
        .iter()
        .any(|w| token.is_word(w))
    {
        return match (after_be, word.eq_ignore_ascii_case("set")) {
            (true, _) => Some(Tense::Future),
            (false, true) => Some(Tense::Past),
            (false, false) => None,
        };
    }
    if FUTURE_WORDS.iter().any(|w| token.is_word(w)) {
        return Some(Tense::Future);
    }
    if PAST_WORDS.iter().any(|w| token.is_word(w)) {
        return Some(Tense::Past);
    }
    // Regular past forms; capitalised words ending in "-ed" are names ("United Nations").
    let regular_past =
        word.len() > 4 && word.ends_with("ed") && word.starts_with(|c: char| c.is_lowercase());
    regular_past.then_some(Tense::Past)
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    /// A Friday.
    const ANCHOR: Date = date!(2024 - 06 - 21);

    fn resolve(sentence: &str) -> Option<Date> {
        event_date(sentence, ANCHOR).map(|d| d.date)
    }

    fn phrase(sentence: &str) -> &str {
        let found = event_date(sentence, ANCHOR).expect("a date in the sentence");
        &sentence[found.start..found.end]
    }

    #[test]
    fn weekdays_follow_the_tense() {
        let cases = [
            (
                "North Korea fired two missiles on Thursday.",
                date!(2024 - 06 - 20),
            ),
            ("The leaders will meet on Thursday.", date!(2024 - 06 - 27)),
            ("Officials met on Friday.", date!(2024 - 06 - 21)),
            (
                "The ministry said on Friday it will send envoys.",
                date!(2024 - 06 - 21),
            ),
            ("Seoul said Monday it would respond.", date!(2024 - 06 - 17)),
            (
                "On Thursday, the two leaders will sign the deal.",
                date!(2024 - 06 - 27),
            ),
            (
                "On Thursday, the military said it had tracked the launch.",
                date!(2024 - 06 - 20),
            ),
            (
                "The summit is expected to open on Tuesday.",
                date!(2024 - 06 - 25),
            ),
            ("Kim is to visit Moscow on Sunday.", date!(2024 - 06 - 23)),
            ("The verdict is due on Wednesday.", date!(2024 - 06 - 26)),
            (
                "Flights were canceled due to the storm on Wednesday.",
                date!(2024 - 06 - 19),
            ),
            (
                "He plans to travel to Beijing on Monday.",
                date!(2024 - 06 - 24),
            ),
            (
                "We’ll know more on Saturday, he said.",
                date!(2024 - 06 - 22),
            ),
            (
                "Thursday's meeting ended without a deal.",
                date!(2024 - 06 - 20),
            ),
            (
                "Thursday's meeting will focus on trade.",
                date!(2024 - 06 - 27),
            ),
            (
                "The talks collapsed on Friday, and both sides will regroup.",
                date!(2024 - 06 - 21),
            ),
            (
                "Officials expect a decision by Monday.",
                date!(2024 - 06 - 24),
            ),
            ("Talks are scheduled for Sunday.", date!(2024 - 06 - 23)),
        ];
        for (sentence, expected) in cases {
            assert_eq!(resolve(sentence), Some(expected), "{sentence}");
        }
    }

    #[test]
    fn last_next_and_this_weekdays() {
        assert_eq!(
            resolve("Troops withdrew last Thursday."),
            Some(date!(2024 - 06 - 20))
        );
        assert_eq!(
            resolve("They met last Friday."),
            Some(date!(2024 - 06 - 14))
        );
        assert_eq!(
            resolve("Talks resume next Friday."),
            Some(date!(2024 - 06 - 28))
        );
        assert_eq!(
            resolve("Talks resumed next Monday?"),
            Some(date!(2024 - 06 - 24))
        );
        assert_eq!(
            resolve("The envoy arrived this Tuesday."),
            Some(date!(2024 - 06 - 18))
        );
        assert_eq!(
            resolve("The envoy will arrive this Tuesday."),
            Some(date!(2024 - 06 - 25))
        );
        assert_eq!(phrase("Troops withdrew last Thursday."), "last Thursday");
        assert_eq!(
            phrase("The navy said on Sunday that it saw nothing."),
            "Sunday"
        );
    }

    #[test]
    fn explicit_dates() {
        assert_eq!(
            resolve("The treaty was signed on June 9, 2024."),
            Some(date!(2024 - 06 - 09))
        );
        assert_eq!(
            resolve("It took effect 9 June 2024."),
            Some(date!(2024 - 06 - 09))
        );
        assert_eq!(
            resolve("Filed on 2024-06-09 in Seoul."),
            Some(date!(2024 - 06 - 09))
        );
        assert_eq!(
            resolve("The vote is set for Jan. 5, 2025."),
            Some(date!(2025 - 01 - 05))
        );
        assert_eq!(
            resolve("The war began on Feb. 24, 2022."),
            Some(date!(2022 - 02 - 24))
        );
        assert_eq!(
            resolve("Troops crossed on Sept 3 2023."),
            Some(date!(2023 - 09 - 03))
        );
        assert_eq!(
            resolve("They met on the 9th of June 2021."),
            Some(date!(2021 - 06 - 09))
        );
        assert_eq!(
            phrase("It was signed on June 9, 2024, in Seoul."),
            "June 9, 2024"
        );
        assert_eq!(phrase("Filed on 2024-06-09 in Seoul."), "2024-06-09");
    }

    #[test]
    fn month_and_day_take_the_nearest_year() {
        assert_eq!(
            resolve("The talks began on June 9."),
            Some(date!(2024 - 06 - 09))
        );
        assert_eq!(
            resolve("Kim arrived on Dec. 30."),
            Some(date!(2023 - 12 - 30))
        );
        assert_eq!(
            resolve("The drill ran until 3 June."),
            Some(date!(2024 - 06 - 03))
        );
        assert_eq!(
            resolve("The attack of Sept. 3 shocked the region."),
            Some(date!(2023 - 09 - 03))
        );
        assert_eq!(resolve("Voting ends Aug. 10."), Some(date!(2024 - 08 - 10)));
        assert_eq!(
            resolve("Parliament will vote on Dec. 30."),
            Some(date!(2024 - 12 - 30))
        );
        assert_eq!(
            resolve("They met on June 23rd."),
            Some(date!(2024 - 06 - 23))
        );
        let new_year = date!(2025 - 01 - 03);
        assert_eq!(
            event_date("Kim spoke on Dec. 30.", new_year).map(|d| d.date),
            Some(date!(2024 - 12 - 30))
        );
        let late = date!(2024 - 12 - 28);
        assert_eq!(
            event_date("The ceasefire starts on Jan. 3.", late).map(|d| d.date),
            Some(date!(2025 - 01 - 03))
        );
        assert_eq!(resolve("It happened on Feb. 30."), None);
    }

    #[test]
    fn relative_days() {
        assert_eq!(
            resolve("Seoul protested yesterday."),
            Some(date!(2024 - 06 - 20))
        );
        assert_eq!(resolve("Talks open today."), Some(ANCHOR));
        assert_eq!(resolve("He will speak tonight."), Some(ANCHOR));
        assert_eq!(resolve("Shelling resumed this morning."), Some(ANCHOR));
        assert_eq!(
            resolve("Sirens sounded last night."),
            Some(date!(2024 - 06 - 20))
        );
        assert_eq!(
            resolve("The envoy leaves tomorrow."),
            Some(date!(2024 - 06 - 22))
        );
        assert_eq!(
            resolve("The ship docked the day before yesterday."),
            Some(date!(2024 - 06 - 19))
        );
        assert_eq!(
            phrase("The ship docked the day before yesterday."),
            "the day before yesterday"
        );
        assert_eq!(phrase("Sirens sounded last night."), "last night");
        assert_eq!(
            resolve("Yesterday’s strike killed three."),
            Some(date!(2024 - 06 - 20))
        );
    }

    #[test]
    fn the_first_expression_wins() {
        assert_eq!(
            resolve("On Thursday, two days after the June 18 vote, Kim left."),
            Some(date!(2024 - 06 - 20))
        );
        let found =
            event_date("Officials said on June 9 that the test failed.", ANCHOR).expect("a date");
        assert_eq!((found.start, found.end), (18, 24));
    }

    #[test]
    fn words_that_only_look_like_dates() {
        for sentence in [
            "Seoul may respond with sanctions.",
            "Seoul May Respond With Sanctions",
            "Thousands march through Seoul.",
            "The March deadline passed quietly.",
            "The Sunday Times reported the deal.",
            "The Mail on Sunday reported the deal.",
            "Relatives marked Bloody Sunday in Derry.",
            "Pilgrims gathered for Good Friday prayers.",
            "USA Today reported the deal.",
            "The mayday call came from a fishing boat.",
            "He fired 9 May rockets.",
            "Prices rose 3.5% in June.",
            "The vote was held in May 2024.",
            "The thursday edition carried the story.",
            "Nothing was said about the timing.",
        ] {
            assert_eq!(resolve(sentence), None, "{sentence}");
        }
        assert_eq!(
            resolve("The talks opened on 5 May."),
            Some(date!(2024 - 05 - 05))
        );
        assert_eq!(
            resolve("It began May 5 in Seoul."),
            Some(date!(2024 - 05 - 05))
        );
        assert_eq!(
            resolve("Troops march on Monday."),
            Some(date!(2024 - 06 - 17))
        );
    }

    #[test]
    fn offsets_hold_with_non_ascii_text() {
        let sentence = "Der Gipfel in München wurde am Montag… no: on “Tuesday” it ended.";
        let found = event_date(sentence, ANCHOR).expect("a date");
        assert_eq!(&sentence[found.start..found.end], "Tuesday");
        assert_eq!(found.date, date!(2024 - 06 - 18));
    }
}
