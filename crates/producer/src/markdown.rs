//! Readable text and metadata from a Markdown article with optional front matter.
//!
//! Front matter is read by hand for a handful of flat keys; a YAML or TOML parser would accept
//! far more than the few `key: value` lines news exports carry.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::article::normalise_language;
use crate::html::{Extracted, TextWriter, clean};

/// Front matter keys holding the publication date, most specific first.
const DATE_KEYS: &[&str] = &[
    "published_at",
    "published",
    "publishdate",
    "publish_date",
    "date",
];

/// Front matter keys holding the article's address, most specific first.
const URL_KEYS: &[&str] = &["url", "link", "canonical_url", "canonical"];

/// Extracts the article text and its metadata from a Markdown document.
///
/// Front matter (`---` YAML-style or `+++` TOML-style) at the very start supplies metadata; the
/// title falls back to the first level-one heading, which also stays in the body as the headline.
pub fn extract_markdown(md: &str) -> Extracted {
    let md = md.strip_prefix('\u{feff}').unwrap_or(md);
    let (front, rest) = split_front_matter(md);
    let first_of = |keys: &[&str]| keys.iter().find_map(|key| front.get(key));
    let (body, first_h1) = render(rest);
    Extracted {
        title: front.get("title").or(first_h1),
        source: front.get("source"),
        url: first_of(URL_KEYS),
        published_at: first_of(DATE_KEYS),
        language: first_of(&["lang", "language"])
            .as_deref()
            .and_then(normalise_language),
        body,
    }
}

/// Flat `key → value` pairs of the front matter, keys lower-cased, first occurrence wins.
#[derive(Debug, Default)]
struct FrontMatter {
    pairs: Vec<(String, String)>,
}

impl FrontMatter {
    fn get(&self, key: &str) -> Option<String> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn insert(&mut self, key: &str, value: Option<String>) {
        let key = key.trim().to_lowercase();
        if let Some(value) = value.as_deref().and_then(clean)
            && !key.is_empty()
            && self.get(&key).is_none()
        {
            self.pairs.push((key, value));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Yaml,
    Toml,
}

/// Splits off front matter delimited by `---` or `+++` lines at the very start. A block whose
/// lines do not look like keys is a thematic break followed by text, not front matter.
fn split_front_matter(md: &str) -> (FrontMatter, &str) {
    let none = (FrontMatter::default(), md);
    let mut lines = md.split_inclusive('\n');
    let style = match lines.next().map(|l| l.trim_end()) {
        Some("---") => Style::Yaml,
        Some("+++") => Style::Toml,
        _ => return none,
    };
    let mut offset = md.find('\n').map_or(md.len(), |i| i + 1);
    let mut inner = Vec::new();
    for line in lines {
        offset += line.len();
        let trimmed = line.trim_end();
        let closes = match style {
            Style::Yaml => trimmed == "---" || trimmed == "...",
            Style::Toml => trimmed == "+++",
        };
        if closes {
            let rest = md.get(offset..).unwrap_or("");
            return (parse_front_matter(&inner, style), rest);
        }
        if !looks_like_front_matter(trimmed, style) {
            return none;
        }
        inner.push(trimmed);
    }
    none
}

fn looks_like_front_matter(line: &str, style: Style) -> bool {
    let content = line.trim_start();
    let indented = content.len() < line.len();
    content.is_empty()
        || indented
        || content.starts_with('#')
        || match style {
            Style::Yaml => content.starts_with("- ") || content.contains(':'),
            Style::Toml => content.starts_with('[') || content.contains('='),
        }
}

fn parse_front_matter(lines: &[&str], style: Style) -> FrontMatter {
    let mut front = FrontMatter::default();
    for line in lines {
        // Indented lines belong to nested values; only top-level keys are ours.
        if line.starts_with([' ', '\t']) || line.starts_with('#') {
            continue;
        }
        match style {
            Style::Yaml => {
                if let Some((key, value)) = line.split_once(':') {
                    front.insert(key, yaml_value(value));
                }
            }
            Style::Toml => {
                if line.starts_with('[') {
                    // Keys after a table header belong to that table, not to the document.
                    break;
                }
                if let Some((key, value)) = line.split_once('=') {
                    let key = key.trim().trim_matches(['"', '\'']);
                    front.insert(key, toml_value(value));
                }
            }
        }
    }
    front
}

fn yaml_value(raw: &str) -> Option<String> {
    let value = raw.trim();
    if let Some(inner) = value.strip_prefix('"') {
        return Some(unescape_double_quoted(inner));
    }
    if let Some(inner) = value.strip_prefix('\'') {
        // In single quotes a doubled quote is the only escape.
        let mut out = String::new();
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    out.push('\'');
                    continue;
                }
                break;
            }
            out.push(c);
        }
        return Some(out);
    }
    let value = strip_comment(value);
    // Block scalars, anchors and flow collections are beyond these few flat keys.
    if value.starts_with(['|', '>', '&', '*', '[', '{']) {
        return None;
    }
    Some(value.to_string())
}

fn toml_value(raw: &str) -> Option<String> {
    let value = raw.trim();
    if let Some(inner) = value.strip_prefix('"') {
        return Some(unescape_double_quoted(inner));
    }
    if let Some(inner) = value.strip_prefix('\'') {
        return Some(inner.split('\'').next().unwrap_or(inner).to_string());
    }
    let value = strip_comment(value);
    // Bare values we want are dates; arrays and inline tables are not.
    if value.starts_with(['[', '{']) {
        return None;
    }
    Some(value.to_string())
}

/// Cuts a trailing ` # comment` from an unquoted value.
fn strip_comment(value: &str) -> &str {
    value.split(" #").next().unwrap_or(value).trim()
}

/// Reads a double-quoted string up to its closing quote, decoding the common escapes.
fn unescape_double_quoted(inner: &str) -> String {
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('n') | Some('t') => out.push(' '),
                Some(other) => out.push(other),
                None => break,
            },
            _ => out.push(c),
        }
    }
    out
}

/// Renders the Markdown body to plain text; also returns the first level-one heading's text.
fn render(md: &str) -> (String, Option<String>) {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES;
    let mut writer = TextWriter::default();
    // Depth inside constructs whose text is dropped (code, raw HTML, images, footnotes).
    let mut skipped = 0usize;
    let mut first_h1: Option<String> = None;
    let mut capture: Option<String> = None;
    for event in Parser::new_ext(md, options) {
        if skipped > 0 {
            match event {
                Event::Start(tag) if is_dropped(&tag) => skipped += 1,
                Event::End(
                    TagEnd::CodeBlock
                    | TagEnd::HtmlBlock
                    | TagEnd::Image
                    | TagEnd::FootnoteDefinition,
                ) => {
                    skipped -= 1;
                    if skipped == 0 {
                        writer.paragraph_break();
                    }
                }
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(tag) if is_dropped(&tag) => {
                if !matches!(tag, Tag::Image { .. }) {
                    writer.paragraph_break();
                }
                skipped = 1;
            }
            Event::Start(Tag::Heading { level, .. }) => {
                writer.paragraph_break();
                if level == HeadingLevel::H1 && first_h1.is_none() {
                    capture = Some(String::new());
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                writer.paragraph_break();
                if let Some(text) = capture.take() {
                    first_h1 = clean(&text);
                }
            }
            Event::Start(Tag::Paragraph | Tag::BlockQuote(_) | Tag::List(_) | Tag::Table(_))
            | Event::End(
                TagEnd::Paragraph | TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Table,
            )
            | Event::Rule => writer.paragraph_break(),
            Event::Start(Tag::Item) => writer.enter_list_item(),
            Event::End(TagEnd::Item) => writer.leave_list_item(),
            Event::Start(Tag::TableHead | Tag::TableRow)
            | Event::End(TagEnd::TableHead | TagEnd::TableRow) => writer.line_break(),
            Event::Start(Tag::TableCell) => writer.cell(),
            Event::Text(text) | Event::Code(text) => {
                writer.push_text(&text);
                if let Some(captured) = capture.as_mut() {
                    captured.push_str(&text);
                }
            }
            Event::SoftBreak => {
                writer.push_text(" ");
                if let Some(captured) = capture.as_mut() {
                    captured.push(' ');
                }
            }
            Event::HardBreak => writer.hard_break(),
            Event::InlineHtml(html) if is_line_break_tag(&html) => writer.hard_break(),
            // Links, emphasis and the like only wrap text; footnote references, task markers
            // and inline tags carry none of the story.
            _ => {}
        }
    }
    (writer.finish(), first_h1)
}

fn is_dropped(tag: &Tag<'_>) -> bool {
    matches!(
        tag,
        Tag::CodeBlock(_) | Tag::HtmlBlock | Tag::Image { .. } | Tag::FootnoteDefinition(_)
    )
}

fn is_line_break_tag(html: &str) -> bool {
    let name: String = html
        .trim_start_matches('<')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    name.eq_ignore_ascii_case("br")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACT_ARTICLE: &str = "---
title: \"Estonia and Finland sign mutual defence pact\"
date: 2025-03-14T09:30:00+02:00
source: 'The Harbour Times'
url: https://harbourtimes.example/world/2025/03/defence-pact
lang: en-GB
tags:
  - defence
  - baltic
---

# Estonia and Finland sign mutual defence pact

![The two ministers shake hands](/img/ministers.jpg)

Estonia and Finland signed a **mutual defence pact** on Friday, committing each
country to come to the other's aid if attacked.

The agreement, reached after [eight months of talks](https://harbourtimes.example/talks),
also allows *joint* air patrols over the Gulf of Finland.[^1]

## Troops and exercises

Under the deal, each side will station up to `1,200` troops on the other's territory.

> \u{201c}This is a historic day for our region,\u{201d} the Estonian prime minister
> told reporters.

- Joint air patrols start in June.
- A shared command centre opens in Helsinki.

<div class=\"ad\">Advertisement</div>

```js
trackPageView();
```

Critics in both parliaments said the pact had been rushed.

[^1]: The talks began in July 2024.
";

    #[test]
    fn realistic_article_with_yaml_front_matter() {
        let got = extract_markdown(PACT_ARTICLE);
        assert_eq!(
            got.title.as_deref(),
            Some("Estonia and Finland sign mutual defence pact")
        );
        assert_eq!(
            got.published_at.as_deref(),
            Some("2025-03-14T09:30:00+02:00")
        );
        assert_eq!(got.source.as_deref(), Some("The Harbour Times"));
        assert_eq!(
            got.url.as_deref(),
            Some("https://harbourtimes.example/world/2025/03/defence-pact")
        );
        assert_eq!(got.language.as_deref(), Some("en"));
        let expected = "Estonia and Finland sign mutual defence pact\n\n\
Estonia and Finland signed a mutual defence pact on Friday, committing each country to come \
to the other's aid if attacked.\n\n\
The agreement, reached after eight months of talks, also allows joint air patrols over the \
Gulf of Finland.\n\n\
Troops and exercises\n\n\
Under the deal, each side will station up to 1,200 troops on the other's territory.\n\n\
\u{201c}This is a historic day for our region,\u{201d} the Estonian prime minister told \
reporters.\n\n\
Joint air patrols start in June.\nA shared command centre opens in Helsinki.\n\n\
Critics in both parliaments said the pact had been rushed.";
        assert_eq!(got.body, expected);
    }

    #[test]
    fn toml_front_matter() {
        let md = "+++\ntitle = \"Ports reopen after strike\"\npublished_at = 2025-06-02T08:15:00Z \
                  # local time 10:15\nsource = 'Coastal Wire'\nlink = \"https://coastalwire.example/ports\"\n\
                  language = \"de\"\n\n[params]\nurl = \"https://wrong.example\"\n+++\n\
                  Dock workers ended a three-day strike on Monday.\n";
        let got = extract_markdown(md);
        assert_eq!(got.title.as_deref(), Some("Ports reopen after strike"));
        assert_eq!(got.published_at.as_deref(), Some("2025-06-02T08:15:00Z"));
        assert_eq!(got.source.as_deref(), Some("Coastal Wire"));
        assert_eq!(
            got.url.as_deref(),
            Some("https://coastalwire.example/ports")
        );
        assert_eq!(got.language.as_deref(), Some("de"));
        assert_eq!(got.body, "Dock workers ended a three-day strike on Monday.");
    }

    #[test]
    fn yaml_quoting_and_key_priority() {
        let md = "---\r\nTitle: 'Minister''s visit: day two' # not a comment in quotes\r\n\
                  date: 2025-01-01\r\npublished: \"2025-01-02 \\\"noon\\\"\"\r\n\
                  summary: |\r\n  A long summary.\r\n---\r\nText.\r\n";
        let got = extract_markdown(md);
        assert_eq!(got.title.as_deref(), Some("Minister's visit: day two"));
        assert_eq!(got.published_at.as_deref(), Some("2025-01-02 \"noon\""));
        assert_eq!(got.body, "Text.");
    }

    #[test]
    fn thematic_break_is_not_front_matter() {
        let md = "---\nThe vote was close.\n\n---\n\nCounting continues.";
        let got = extract_markdown(md);
        assert_eq!(got.title, None);
        assert_eq!(got.body, "The vote was close.\n\nCounting continues.");
        let unclosed = "---\ntitle: Never closed\n\nBody text.";
        assert_eq!(extract_markdown(unclosed).title, None);
    }

    #[test]
    fn headings_and_title_fallback() {
        let got = extract_markdown(
            "Intro line.\n\nFloods hit the north\n====================\n\n### Rescue efforts\n\n\
             # Second headline {#second}\n\nMore text.",
        );
        assert_eq!(got.title.as_deref(), Some("Floods hit the north"));
        assert_eq!(
            got.body,
            "Intro line.\n\nFloods hit the north\n\nRescue efforts\n\nSecond headline\n\nMore text."
        );
    }

    #[test]
    fn nested_lists_and_loose_items() {
        let got = extract_markdown(
            "Key points:\n\n1. Troops\n   - 1,200 each way\n   - rotating\n2. Patrols\n\n\
             * Loose item one.\n\n* Loose item two\n  continues here.\n\n- [x] Signed\n",
        );
        assert_eq!(
            got.body,
            "Key points:\n\nTroops\n1,200 each way\nrotating\nPatrols\n\n\
             Loose item one.\nLoose item two continues here.\n\nSigned"
        );
    }

    #[test]
    fn links_emphasis_and_inline_markup_keep_their_text() {
        let got = extract_markdown(
            "The *prime* **minister** of [Finland](https://gov.example \"Gov\") said \
             `no` to ~~two~~ <span>three</span> [proposals][ref].<br>Next line  \nand one more\\\n\
             last.\n\n[ref]: https://example.invalid/ref\n\nSee <https://example.invalid/x>.",
        );
        assert_eq!(
            got.body,
            "The prime minister of Finland said no to two three proposals.\nNext line\n\
             and one more\nlast.\n\nSee https://example.invalid/x."
        );
    }

    #[test]
    fn code_html_images_and_footnotes_are_dropped() {
        let got = extract_markdown(
            "Before.\n\n    indented code\n\n~~~\nfenced\n~~~\n\n<script>\nalert(1)\n</script>\n\n\
             ![alt *text*](/a.png) After image.[^n]\n\n[^n]: Footnote body.\n\n\
             | Country | Troops |\n|---|---|\n| Estonia | 1,200 |\n| Finland |  |\n",
        );
        assert_eq!(
            got.body,
            "Before.\n\nAfter image.\n\nCountry ; Troops\nEstonia ; 1,200\nFinland"
        );
    }

    /// Random soup of Markdown fragments: no panic, and the body keeps its layout promises.
    #[test]
    fn random_markdown_soup_holds_invariants() {
        const FRAGMENTS: &[&str] = &[
            "---\n",
            "+++\n",
            "title: x\n",
            "# ",
            "## ",
            "\n",
            "\n\n",
            "- ",
            "1. ",
            "> ",
            "    ",
            "```\n",
            "~~~",
            "*",
            "**",
            "_",
            "`",
            "[",
            "]",
            "(",
            ")",
            "![",
            "<div>",
            "</div>",
            "<br>",
            "|",
            "|---|",
            "[^1]",
            "[^1]: ",
            "\\",
            "  \n",
            "word",
            "Se",
            "oul",
            ".",
            "\u{e9}",
            "\u{200b}",
            "&amp;",
            "&#8220;",
            "\t",
            "\r\n",
            "=\n",
            "-\n",
        ];
        proptest::proptest!(|(picks in proptest::collection::vec(0..FRAGMENTS.len(), 0..400))| {
            let md: String = picks.iter().map(|&i| FRAGMENTS[i]).collect();
            crate::html::tests::assert_readable_body(&extract_markdown(&md).body, &md);
        });
    }

    #[test]
    fn empty_and_odd_input() {
        assert_eq!(extract_markdown(""), Extracted::default());
        assert_eq!(extract_markdown("---"), Extracted::default());
        assert_eq!(extract_markdown("---\n---\n").body, "");
        assert_eq!(extract_markdown("+++\n+++").body, "");
        assert_eq!(
            extract_markdown("\u{feff}# Hi\n").title.as_deref(),
            Some("Hi")
        );
        let deep = format!("{}quote\n", "> ".repeat(10_000));
        assert_eq!(extract_markdown(&deep).body, "quote");
        let deep_list = format!("{}item\n", "- ".repeat(5_000));
        assert_eq!(extract_markdown(&deep_list).body, "item");
    }
}
