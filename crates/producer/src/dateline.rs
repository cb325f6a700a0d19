//! News datelines: "SEOUL, June 21 (Yonhap) --", "MOSCOW (Reuters) -", "KYIV, Ukraine —".
//!
//! A dateline is read only at the very start of a text (an article's first paragraph or
//! sentence): an upper-case place, then an optional ", Country" and/or ", Month Day", an
//! optional "(Source)", then a dash (`-`, `--`, `—`, `–`) set off by spaces. A bare
//! "PLACE — Story" (no comma part, no source) is accepted only when the story starts with
//! a capital, a digit or a quote, reads as prose (has a lower-case letter) and has no
//! second spaced dash in its first sentence, so "NATO — the alliance — said …" is not a
//! dateline.

use time::Month;

/// A dateline at the start of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dateline {
    /// The place as written: the upper-case city, with its ", Country" when given
    /// ("KYIV, Ukraine", "BEIJING/SEOUL").
    pub place: String,
    /// The month and day when the dateline carries them ("June 21").
    pub month_day: Option<(Month, u8)>,
    /// The outlet named in brackets ("Yonhap"), if any.
    pub source: Option<String>,
    /// Byte offset where the story starts: after the dash and the white space after it (the
    /// text's length when nothing follows).
    pub end: usize,
}

/// Most words a place or a country may have ("RIO DE JANEIRO", "Democratic Republic of
/// Congo").
const MAX_PLACE_WORDS: usize = 6;

/// Longest outlet name accepted between brackets, in bytes.
const MAX_SOURCE_BYTES: usize = 48;

/// How far into the story the bare form looks for a second dash, in bytes.
const DASH_LOOKAHEAD: usize = 300;

/// Reads the dateline at the start of `text`, if there is one.
pub fn dateline(text: &str) -> Option<Dateline> {
    let start = text.len() - text.trim_start().len();
    let mut cur = place_end(text, start)?;
    let mut place_until = cur;
    let mut month_day = None;
    let mut comma_parts = 0;
    // ", Country" and ", Month Day", at most one of each.
    while comma_parts < 2 && text[cur..].starts_with(',') {
        let part = skip_spaces(text, cur + 1);
        if month_day.is_none()
            && let Some((month, day, end)) = month_and_day(text, part)
        {
            month_day = Some((month, day));
            cur = end;
        } else if place_until == cur
            && let Some(end) = region_end(text, part)
        {
            place_until = end;
            cur = end;
        } else {
            return None;
        }
        comma_parts += 1;
    }
    let mut source = None;
    let bracket = skip_spaces(text, cur);
    if text[bracket..].starts_with('(') {
        let inner = &text[bracket + 1..];
        let close = inner
            .char_indices()
            .take(MAX_SOURCE_BYTES)
            .find(|&(_, c)| matches!(c, ')' | '(' | '\n'))
            .filter(|&(_, c)| c == ')')?
            .0;
        let name = inner[..close].trim();
        if !name.chars().any(char::is_alphabetic) {
            return None;
        }
        source = Some(name.to_owned());
        cur = bracket + 1 + close + 1;
    }
    let dash_at = skip_spaces(text, cur);
    let after = &text[dash_at..];
    let dash_len = ["--", "—", "–", "-"]
        .iter()
        .find(|d| after.starts_with(**d))?
        .len();
    let after_dash = dash_at + dash_len;
    let long_dash = dash_len > 1;
    let strong = source.is_some() || comma_parts > 0;
    let spaced_before = dash_at > cur;
    let spaced_after = text[after_dash..]
        .chars()
        .next()
        .is_none_or(char::is_whitespace);
    // A spaced dash is the rule; a glued em dash is common enough after "(AP)".
    if !(spaced_before && spaced_after || strong && long_dash) {
        return None;
    }
    let end = after_dash + (text.len() - after_dash - text[after_dash..].trim_start().len());
    let story = &text[end..];
    if !strong && !bare_story_fits(story) {
        return None;
    }
    Some(Dateline {
        place: text[start..place_until].to_owned(),
        month_day,
        source,
        end,
    })
}

fn skip_spaces(text: &str, from: usize) -> usize {
    from + (text[from..].len() - text[from..].trim_start_matches([' ', '\t']).len())
}

/// The end of the upper-case place starting at `from`: words of upper-case letters, dots,
/// slashes, hyphens and apostrophes, one space apart, with at least two letters in all.
fn place_end(text: &str, from: usize) -> Option<usize> {
    let mut end = None;
    let mut letters = 0;
    let mut pos = from;
    for _ in 0..MAX_PLACE_WORDS {
        let word_len = text[pos..]
            .find(|c: char| !(c.is_alphabetic() || matches!(c, '.' | '/' | '-' | '\'' | '’')))
            .unwrap_or(text.len() - pos);
        let word = &text[pos..pos + word_len];
        let word_letters = word.chars().filter(|c| c.is_alphabetic()).count();
        // A word with a lower-case letter ends the place ("SEOUL has"); so does a dash.
        if word_letters == 0 || word.chars().any(|c| c.is_alphabetic() && !c.is_uppercase()) {
            break;
        }
        letters += word_letters;
        end = Some(pos + word_len);
        let next = pos + word_len;
        if !text[next..].starts_with(' ') {
            break;
        }
        pos = next + 1;
    }
    end.filter(|_| letters >= 2)
}

/// The end of a ", Country" part starting at `from`: capitalised words ("Ukraine", "South
/// Korea", "N.Y.").
fn region_end(text: &str, from: usize) -> Option<usize> {
    let mut end = None;
    let mut pos = from;
    for _ in 0..MAX_PLACE_WORDS {
        let rest = &text[pos..];
        if !rest.starts_with(char::is_uppercase) {
            break;
        }
        let word_len = rest
            .find(|c: char| !(c.is_alphabetic() || matches!(c, '.' | '-' | '\'' | '’')))
            .unwrap_or(rest.len());
        end = Some(pos + word_len);
        let next = pos + word_len;
        if !text[next..].starts_with(' ') {
            break;
        }
        pos = next + 1;
    }
    end
}

/// A month name, full or abbreviated with or without a dot ("June", "Jan.", "Sept"), then a
/// day of that month: the month, the day and the end of the day number.
fn month_and_day(text: &str, from: usize) -> Option<(Month, u8, usize)> {
    let rest = &text[from..];
    let word_len = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    let month = month_named(&rest[..word_len])?;
    let mut pos = from + word_len;
    if text[pos..].starts_with('.') {
        pos += 1;
    }
    let day_at = skip_spaces(text, pos);
    if day_at == pos {
        return None;
    }
    let digits = text[day_at..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    if !(1..=2).contains(&digits) {
        return None;
    }
    let day: u8 = text[day_at..day_at + digits].parse().ok()?;
    (1..=max_day(month))
        .contains(&day)
        .then_some((month, day, day_at + digits))
}

/// The month a capitalised English month name or abbreviation stands for.
pub(crate) fn month_named(word: &str) -> Option<Month> {
    if !word.starts_with(|c: char| c.is_ascii_uppercase()) {
        return None;
    }
    let lower = word.to_ascii_lowercase();
    let month = match lower.as_str() {
        "january" | "jan" => Month::January,
        "february" | "feb" => Month::February,
        "march" | "mar" => Month::March,
        "april" | "apr" => Month::April,
        "may" => Month::May,
        "june" | "jun" => Month::June,
        "july" | "jul" => Month::July,
        "august" | "aug" => Month::August,
        "september" | "sep" | "sept" => Month::September,
        "october" | "oct" => Month::October,
        "november" | "nov" => Month::November,
        "december" | "dec" => Month::December,
        _ => return None,
    };
    Some(month)
}

/// The last day a month can have in any year.
fn max_day(month: Month) -> u8 {
    match month {
        Month::February => 29,
        Month::April | Month::June | Month::September | Month::November => 30,
        _ => 31,
    }
}

/// Whether the story after a bare "PLACE —" reads as one: it starts with a capital, a digit
/// or a quote, its first sentence has a lower-case letter (prose, not a headline) and no
/// second spaced dash (a parenthetical pair).
fn bare_story_fits(story: &str) -> bool {
    let Some(first) = story.chars().next() else {
        return true; // the dateline stands on its own line
    };
    if !(first.is_uppercase() || first.is_ascii_digit() || matches!(first, '“' | '"' | '‘')) {
        return false;
    }
    let mut limit = story.len().min(DASH_LOOKAHEAD);
    while !story.is_char_boundary(limit) {
        limit -= 1;
    }
    let head = &story[..limit];
    let head = head.split(['\n', '.']).next().unwrap_or(head);
    // An all-capitals "story" is a headline ("UKRAINE WAR — LIVE UPDATES"), not prose.
    head.chars().any(char::is_lowercase)
        && ![" - ", " -- ", " — ", " – "]
            .iter()
            .any(|d| head.contains(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Dateline {
        dateline(text).unwrap_or_else(|| panic!("no dateline in {text:?}"))
    }

    #[test]
    fn yonhap_style() {
        let text =
            "SEOUL, June 21 (Yonhap) -- Russia has warned South Korea against arming Ukraine.";
        let line = read(text);
        assert_eq!(line.place, "SEOUL");
        assert_eq!(line.month_day, Some((Month::June, 21)));
        assert_eq!(line.source.as_deref(), Some("Yonhap"));
        assert!(text[line.end..].starts_with("Russia has warned"));
    }

    #[test]
    fn reuters_style_without_date() {
        let text = "MOSCOW (Reuters) - The Kremlin said on Friday it would respond.";
        let line = read(text);
        assert_eq!(line.place, "MOSCOW");
        assert_eq!(line.month_day, None);
        assert_eq!(line.source.as_deref(), Some("Reuters"));
        assert!(text[line.end..].starts_with("The Kremlin"));
    }

    #[test]
    fn place_with_country() {
        let text = "KYIV, Ukraine — Ukrainian forces pushed back an assault near Kharkiv.";
        let line = read(text);
        assert_eq!(line.place, "KYIV, Ukraine");
        assert_eq!(line.source, None);
        assert!(text[line.end..].starts_with("Ukrainian forces"));
        let text = "ST. PETERSBURG, Russia (AP) — Thousands gathered.";
        assert_eq!(read(text).place, "ST. PETERSBURG, Russia");
        let text = "KYIV, Ukraine, June 3 (Reuters) - Air raid sirens sounded.";
        let line = read(text);
        assert_eq!(line.place, "KYIV, Ukraine");
        assert_eq!(line.month_day, Some((Month::June, 3)));
    }

    #[test]
    fn abbreviated_months_and_sources() {
        let line = read("WASHINGTON, Jan. 5 (AP) — The Senate voted on Friday.");
        assert_eq!(
            (line.place.as_str(), line.month_day, line.source.as_deref()),
            ("WASHINGTON", Some((Month::January, 5)), Some("AP"))
        );
        let text = "TOKYO, Sept. 3 (Kyodo) —";
        let line = read(text);
        assert_eq!(line.month_day, Some((Month::September, 3)));
        assert_eq!(line.source.as_deref(), Some("Kyodo"));
        assert_eq!(line.end, text.len());
        let line = read("UNITED NATIONS (AP) — The Security Council met.");
        assert_eq!(line.place, "UNITED NATIONS");
        let line = read("BEIJING/SEOUL, June 21 (Reuters) - China and South Korea agreed.");
        assert_eq!(line.place, "BEIJING/SEOUL");
        assert_eq!(line.month_day, Some((Month::June, 21)));
    }

    #[test]
    fn end_skips_the_dash_and_spaces_even_across_a_line_break() {
        let text = "SEOUL, June 21 (Yonhap) --\nNorth Korea fired a missile.";
        let line = read(text);
        assert_eq!(&text[line.end..], "North Korea fired a missile.");
        let text = "PYONGYANG (KCNA)—Kim Jong Un inspected a factory.";
        assert!(text[read(text).end..].starts_with("Kim Jong Un"));
    }

    #[test]
    fn bare_place_and_dash() {
        let text = "MOSCOW — The Kremlin dismissed the report.";
        let line = read(text);
        assert_eq!(line.place, "MOSCOW");
        assert!(text[line.end..].starts_with("The Kremlin"));
    }

    #[test]
    fn ordinary_sentences_are_not_datelines() {
        for text in [
            "SEOUL has warned Moscow.",
            "NATO — the alliance — said it would respond.",
            "NATO — The alliance, which has 32 members — said it would respond.",
            "Kim Jong Un said - quoting his father - that talks were over.",
            "Seoul, June 21 (Yonhap) -- lower-case place.",
            "A — B said nothing.",
            "BY LEE HAYE-AH",
            "RUSSIA WARNS SEOUL OVER ARMS",
            "SEOUL, June 41 (Yonhap) -- Russia warned.",
            "SEOUL, (Yonhap) -- Russia warned.",
            "SEOUL-based analysts said the test failed.",
            "U.N. envoy arrives in Seoul",
            "UKRAINE WAR — LIVE UPDATES",
            "",
        ] {
            assert_eq!(dateline(text), None, "{text:?}");
        }
    }

    #[test]
    fn non_ascii_text_does_not_trip_offsets() {
        assert_eq!(dateline("서울 — 북한이 미사일을 발사했다."), None);
        let text = "SÃO PAULO (Reuters) - Brazil’s central bank held rates.";
        let line = read(text);
        assert_eq!(line.place, "SÃO PAULO");
        assert!(text[line.end..].starts_with("Brazil"));
    }
}
