//! Readable text and metadata from an HTML news page.
//!
//! The page is parsed by html5ever (through `scraper`) and copied once into a small arena of
//! nodes addressed by index. Every later pass is a loop over that arena with an explicit stack,
//! so deeply nested markup cannot overflow the call stack and each pass stays linear in the
//! number of nodes.

use std::borrow::Cow;
use std::collections::HashMap;

use scraper::{Html, Node};
use serde_json::Value;

use crate::article::normalise_language;

/// Readable text and metadata taken from a formatted document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// Headline of the article.
    pub title: Option<String>,
    /// Outlet name (og:site_name, application-name, JSON-LD publisher.name, front matter `source`).
    pub source: Option<String>,
    /// Canonical URL (link rel=canonical, og:url, front matter `url`).
    pub url: Option<String>,
    /// Publication date exactly as written in the metadata (the caller parses it).
    pub published_at: Option<String>,
    /// Language tag as declared (`<html lang>`, meta content-language, og:locale, front matter `lang`/`language`), lower-cased primary subtag, e.g. "en".
    pub language: Option<String>,
    /// The article's readable text: paragraphs separated by a blank line ("\n\n"), each list item on its own line, headings as their own paragraphs, no markup, whitespace inside a paragraph collapsed to single spaces, entities decoded.
    pub body: String,
}

/// Extracts the article text and its metadata from an HTML page.
///
/// Never panics; malformed markup is repaired by the HTML5 parsing algorithm, and input without
/// any readable text yields an empty body.
pub fn extract_html(html: &str) -> Extracted {
    let dom = Dom::parse(html);
    let root = dom.content_root();
    let mut body = dom.body_text(root);
    if body.is_empty()
        && let Some(fallback) = dom.body
        && fallback != root
    {
        // A root chosen by markup alone can turn out to hold nothing readable once boilerplate
        // is removed; the whole body is a better answer than an empty one.
        body = dom.body_text(fallback);
    }
    let meta = dom.metadata(root);
    Extracted { body, ..meta }
}

/// Elements whose whole subtree never carries story text.
const DROPPED_TAGS: &[&str] = &[
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "math",
    "iframe",
    "nav",
    "header",
    "footer",
    "aside",
    "figure",
    "figcaption",
    "button",
    "input",
    "select",
    "textarea",
    "option",
    "object",
    "embed",
    "video",
    "audio",
    "canvas",
    "dialog",
    "head",
    "title",
    "meta",
    "link",
    "rt",
    "rp",
    "amp-ad",
    "amp-embed",
    "amp-sticky-ad",
];

/// ARIA landmark roles of page chrome rather than content.
const DROPPED_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "dialog",
    "alertdialog",
    "search",
    "menubar",
    "toolbar",
];

/// Class or id words (after splitting on punctuation and camelCase) marking boilerplate.
/// Short or ambiguous words must match whole, so "ad" hits "header-ad" but not "heading".
const BOILERPLATE_WORDS: &[&str] = &[
    "ad",
    "ads",
    "adv",
    "adslot",
    "adunit",
    "adsbygoogle",
    "share",
    "shares",
    "sharing",
    "sharebar",
    "sharetools",
    "promo",
    "promos",
    "promoted",
    "subscribe",
    "comment",
    "comments",
    "commenting",
    "sponsor",
    "sponsored",
    "gdpr",
];

/// Class or id word stems long and specific enough to match as a prefix ("relatedstories").
const BOILERPLATE_PREFIXES: &[&str] = &[
    "social",
    "related",
    "recommend",
    "advert",
    "newsletter",
    "cookie",
    "consent",
    "breadcrumb",
    "sidebar",
    "byline",
    "outbrain",
    "taboola",
];

/// Whole class names of text meant only for screen readers ("Advertisement", "Share this").
const SCREEN_READER_CLASSES: &[&str] = &[
    "sr-only",
    "visually-hidden",
    "visuallyhidden",
    "screen-reader-text",
    "screenreader-only",
];

/// Meta names that carry a publication date, in order of trust.
const DATE_META_NAMES: &[&str] = &[
    "date",
    "pubdate",
    "publish-date",
    "publishdate",
    "publish_date",
    "dc.date",
    "dc.date.issued",
    "dcterms.date",
    "sailthru.date",
];

/// Containers dropped when mostly links ("Related stories", tag clouds, link rows).
const LINK_LIST_TAGS: &[&str] = &[
    "div", "section", "ul", "ol", "dl", "menu", "table", "tbody", "article", "span",
];

/// Subtrees not searched for the headline or a `<time>`: they hold other stories' metadata.
const SEARCH_SKIPPED_TAGS: &[&str] = &[
    "aside", "nav", "script", "style", "template", "noscript", "svg", "iframe",
];

#[derive(Debug)]
enum Kind {
    Element {
        tag: String,
        attrs: Vec<(String, String)>,
    },
    Text(String),
    Other,
}

/// Visible character counts of a subtree, leaving out white space and hard-dropped elements.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    text: usize,
    link_text: usize,
    links: usize,
    /// Text inside `<p>` descendants.
    ptext: usize,
    /// Text of `<p>` children only.
    direct_ptext: usize,
}

#[derive(Debug)]
struct DomNode {
    parent: Option<usize>,
    children: Vec<usize>,
    kind: Kind,
    /// Never part of the body (tag, role, hidden).
    hard_drop: bool,
    /// This node or an ancestor is hard-dropped.
    under_hard_drop: bool,
    /// Dropped unless it holds most of the story (a page-wide form, a badly named wrapper).
    soft_drop: bool,
    /// Soft-dropped because of its class or id words.
    boiler_class: bool,
    /// Inside `<svg>` or `<math>`, whose `<title>` is not the page's.
    foreign: bool,
    stats: Stats,
}

impl DomNode {
    fn tag(&self) -> Option<&str> {
        match &self.kind {
            Kind::Element { tag, .. } => Some(tag),
            _ => None,
        }
    }

    fn attr(&self, name: &str) -> Option<&str> {
        match &self.kind {
            Kind::Element { attrs, .. } => attrs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str()),
            _ => None,
        }
    }

    fn is(&self, name: &str) -> bool {
        self.tag() == Some(name)
    }
}

#[derive(Debug)]
struct Dom {
    nodes: Vec<DomNode>,
    body: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Enter(usize),
    Exit(usize),
}

impl Dom {
    fn parse(html: &str) -> Dom {
        let document = Html::parse_document(&cap_nesting(html));
        let mut nodes: Vec<DomNode> = Vec::new();
        let mut body = None;
        let mut stack = vec![(document.tree.root(), None::<usize>)];
        while let Some((node, parent)) = stack.pop() {
            let index = nodes.len();
            let (parent_under, parent_foreign) = parent
                .and_then(|p| nodes.get(p))
                .map_or((false, false), |p| (p.under_hard_drop, p.foreign));
            let mut new = DomNode {
                parent,
                children: Vec::new(),
                kind: Kind::Other,
                hard_drop: false,
                under_hard_drop: parent_under,
                soft_drop: false,
                boiler_class: false,
                foreign: parent_foreign,
                stats: Stats::default(),
            };
            match node.value() {
                Node::Text(text) => new.kind = Kind::Text(text.to_string()),
                Node::Element(element) => {
                    let tag = element.name().to_ascii_lowercase();
                    let attrs: Vec<(String, String)> = element
                        .attrs()
                        .map(|(key, value)| (key.to_ascii_lowercase(), value.to_string()))
                        .collect();
                    new.foreign = parent_foreign || tag == "svg" || tag == "math";
                    let structural = matches!(tag.as_str(), "html" | "body");
                    if !structural {
                        new.hard_drop = DROPPED_TAGS.contains(&tag.as_str())
                            || is_hidden(&attrs)
                            || attr_of(&attrs, "role").is_some_and(|role| {
                                DROPPED_ROLES.contains(&role.trim().to_ascii_lowercase().as_str())
                            });
                        new.boiler_class = ["class", "id"]
                            .iter()
                            .any(|name| attr_of(&attrs, name).is_some_and(is_boilerplate_name));
                        // aria-hidden is often set by scripts on visible wrappers, so it only
                        // counts when the element does not hold most of the story.
                        let aria_hidden = attr_of(&attrs, "aria-hidden")
                            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
                        new.soft_drop = new.boiler_class || aria_hidden || tag == "form";
                    }
                    new.under_hard_drop = parent_under || new.hard_drop;
                    if body.is_none() && tag == "body" {
                        body = Some(index);
                    }
                    new.kind = Kind::Element { tag, attrs };
                }
                _ => {}
            }
            nodes.push(new);
            if let Some(p) = parent.and_then(|p| nodes.get_mut(p)) {
                p.children.push(index);
            }
            for child in node.children().rev() {
                stack.push((child, Some(index)));
            }
        }
        let mut dom = Dom { nodes, body };
        dom.count();
        dom
    }

    /// Fills in `stats` bottom-up: in pre-order every descendant has a larger index than its
    /// ancestor, so one reverse sweep sees each node complete before adding it to its parent.
    fn count(&mut self) {
        for index in (0..self.nodes.len()).rev() {
            let Some(node) = self.nodes.get_mut(index) else {
                continue;
            };
            let mut stats = node.stats;
            let mut is_p = false;
            match &node.kind {
                Kind::Text(text) => stats.text += visible_len(text),
                Kind::Element { tag, .. } => {
                    if tag == "p" {
                        stats.ptext = stats.text;
                        is_p = true;
                    } else if tag == "a" {
                        stats.link_text = stats.text;
                        stats.links += 1;
                    }
                }
                Kind::Other => {}
            }
            node.stats = stats;
            if node.hard_drop {
                continue;
            }
            let Some(parent) = node.parent.and_then(|p| self.nodes.get_mut(p)) else {
                continue;
            };
            parent.stats.text += stats.text;
            parent.stats.link_text += stats.link_text;
            parent.stats.links += stats.links;
            parent.stats.ptext += stats.ptext;
            if is_p {
                parent.stats.direct_ptext += stats.text;
            }
        }
    }

    fn node(&self, index: usize) -> Option<&DomNode> {
        self.nodes.get(index)
    }

    fn stats(&self, index: usize) -> Stats {
        self.node(index).map(|n| n.stats).unwrap_or_default()
    }

    /// Index of the element whose text is the story.
    fn content_root(&self) -> usize {
        let itemprop_body = |n: &DomNode| {
            n.attr("itemprop")
                .is_some_and(|v| v.split_whitespace().any(|t| t == "articleBody"))
        };
        let role_main = |n: &DomNode| {
            n.attr("role")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("main"))
        };
        let densest = self.best(|_| true, |s| s.direct_ptext);
        let dense_text = densest.map_or(0, |i| self.stats(i).direct_ptext);
        // Teaser cards are often <article> elements too; one whose paragraphs are a small
        // fraction of the page's densest block of paragraphs is not the story.
        let story_article = |n: &DomNode| n.is("article") && n.stats.ptext * 4 >= dense_text;
        self.best(story_article, |s| s.ptext)
            .or_else(|| self.best(itemprop_body, |s| s.text))
            .or_else(|| self.best(|n| n.is("main"), |s| s.text))
            .or_else(|| self.best(role_main, |s| s.text))
            .or_else(|| self.best(story_article, |s| s.text))
            .or(densest)
            .or(self.body)
            .unwrap_or(0)
    }

    /// The first element matching `pred`, outside dropped chrome, with the largest non-zero
    /// `score`.
    fn best(&self, pred: impl Fn(&DomNode) -> bool, score: fn(&Stats) -> usize) -> Option<usize> {
        let mut best: Option<(usize, usize)> = None;
        for (index, node) in self.nodes.iter().enumerate() {
            if node.tag().is_none() || node.under_hard_drop || !pred(node) {
                continue;
            }
            let value = score(&node.stats);
            if value > 0 && best.is_none_or(|(_, top)| value > top) {
                best = Some((index, value));
            }
        }
        best.map(|(index, _)| index)
    }

    /// Whether the subtree at `index` is left out of a body rooted at `root`.
    fn skipped(&self, index: usize, root: usize) -> bool {
        let Some(node) = self.node(index) else {
            return true;
        };
        if node.hard_drop {
            return true;
        }
        let stats = node.stats;
        let root_stats = self.stats(root);
        // Paragraph text is the best measure of story; pages without <p> fall back to all text.
        let weight = |s: &Stats| {
            if root_stats.ptext > 0 {
                s.ptext
            } else {
                s.text
            }
        };
        let holds_most_of_story = weight(&stats) * 2 > weight(&root_stats);
        // Only containers: a story sentence naming three linked places is still a sentence.
        let link_dense = node.tag().is_some_and(|t| LINK_LIST_TAGS.contains(&t))
            && stats.links >= 3
            && stats.link_text * 2 > stats.text;
        (node.soft_drop || link_dense) && !holds_most_of_story
    }

    fn body_text(&self, root: usize) -> String {
        self.render(root, |index| index != root && self.skipped(index, root))
    }

    /// Text of one element, such as a headline, with its line breaks turned into spaces.
    fn flat_text(&self, index: usize) -> Option<String> {
        let text = self.render(index, |i| self.node(i).is_some_and(|n| n.hard_drop));
        clean(&text)
    }

    /// Lays out the text below `root`, leaving out elements for which `skip` holds.
    fn render(&self, root: usize, skip: impl Fn(usize) -> bool) -> String {
        let mut writer = TextWriter::default();
        let mut stack = vec![Step::Enter(root)];
        while let Some(step) = stack.pop() {
            match step {
                Step::Enter(index) => {
                    let Some(node) = self.node(index) else {
                        continue;
                    };
                    match &node.kind {
                        Kind::Text(text) => writer.push_text(text),
                        Kind::Element { tag, .. } => {
                            if skip(index) {
                                continue;
                            }
                            writer.open(tag);
                            stack.push(Step::Exit(index));
                            stack.extend(node.children.iter().rev().map(|&c| Step::Enter(c)));
                        }
                        Kind::Other => {
                            stack.extend(node.children.iter().rev().map(|&c| Step::Enter(c)));
                        }
                    }
                }
                Step::Exit(index) => {
                    if let Some(tag) = self.node(index).and_then(DomNode::tag) {
                        writer.close(tag);
                    }
                }
            }
        }
        writer.finish()
    }

    /// All text below `index`, as written (whitespace not yet collapsed).
    fn raw_text(&self, index: usize) -> String {
        let mut out = String::new();
        let mut stack = vec![index];
        while let Some(i) = stack.pop() {
            let Some(node) = self.node(i) else {
                continue;
            };
            if let Kind::Text(text) = &node.kind {
                out.push_str(text);
            }
            stack.extend(node.children.iter().rev());
        }
        out
    }

    /// First node in pre-order below `root` (inclusive) matching `pred`, not looking inside
    /// other stories' teasers.
    fn find_in(&self, root: usize, pred: impl Fn(&DomNode) -> bool) -> Option<usize> {
        let mut stack = vec![root];
        while let Some(i) = stack.pop() {
            let Some(node) = self.node(i) else {
                continue;
            };
            if i != root
                && (node.boiler_class
                    || node.tag().is_some_and(|t| SEARCH_SKIPPED_TAGS.contains(&t)))
            {
                continue;
            }
            if pred(node) {
                return Some(i);
            }
            stack.extend(node.children.iter().rev());
        }
        None
    }

    fn metadata(&self, root: usize) -> Extracted {
        let mut meta: HashMap<String, String> = HashMap::new();
        let mut canonical = None;
        let mut title_tag = None;
        let mut html_lang = None;
        let mut itemprop_date = None;
        let mut linked_data = Vec::new();
        for (index, node) in self.nodes.iter().enumerate() {
            let Some(tag) = node.tag() else {
                continue;
            };
            match tag {
                "meta" => {
                    if let Some(content) = node.attr("content").and_then(clean) {
                        for key in ["property", "name", "itemprop", "http-equiv"] {
                            if let Some(key) = node.attr(key) {
                                meta.entry(key.trim().to_ascii_lowercase())
                                    .or_insert_with(|| content.clone());
                            }
                        }
                    }
                }
                "link" if canonical.is_none() => {
                    let is_canonical = node.attr("rel").is_some_and(|rel| {
                        rel.split_whitespace()
                            .any(|r| r.eq_ignore_ascii_case("canonical"))
                    });
                    if is_canonical {
                        canonical = node.attr("href").and_then(clean);
                    }
                }
                "title" if title_tag.is_none() && !node.foreign => {
                    title_tag = clean(&self.raw_text(index));
                }
                "html" if html_lang.is_none() => {
                    html_lang = node
                        .attr("lang")
                        .or_else(|| node.attr("xml:lang"))
                        .and_then(normalise_language);
                }
                "script" => {
                    let is_ld = node.attr("type").is_some_and(|t| {
                        t.trim()
                            .to_ascii_lowercase()
                            .starts_with("application/ld+json")
                    });
                    if is_ld {
                        linked_data.push(self.raw_text(index));
                    }
                }
                _ => {}
            }
            if itemprop_date.is_none()
                && tag != "meta"
                && node.attr("itemprop").is_some_and(|v| {
                    v.split_whitespace()
                        .any(|t| t.eq_ignore_ascii_case("datePublished"))
                })
            {
                itemprop_date = node
                    .attr("content")
                    .or_else(|| node.attr("datetime"))
                    .and_then(clean)
                    .or_else(|| clean(&self.raw_text(index)));
            }
        }
        let ld = LinkedData::from_scripts(&linked_data);
        let get = |key: &str| meta.get(key).cloned();

        let source = get("og:site_name")
            .or_else(|| get("application-name"))
            .or_else(|| ld.publisher.clone());
        let site_names: Vec<String> = [
            get("og:site_name"),
            get("application-name"),
            ld.publisher.clone(),
        ]
        .into_iter()
        .flatten()
        .collect();
        let h1 = || {
            self.find_in(root, |n| n.is("h1"))
                .and_then(|i| self.flat_text(i))
        };
        let title = get("og:title")
            .or_else(|| get("twitter:title"))
            .or_else(h1)
            .or(title_tag)
            .map(|t| strip_site_name(&t, &site_names));

        let time_in_root = || {
            self.find_in(root, |n| {
                n.is("time") && n.attr("datetime").and_then(clean).is_some()
            })
            .and_then(|i| self.node(i))
            .and_then(|n| n.attr("datetime"))
            .and_then(clean)
        };
        let published_at = get("article:published_time")
            .or_else(|| get("datepublished"))
            .or(itemprop_date)
            .or_else(|| DATE_META_NAMES.iter().find_map(|k| get(k)))
            .or_else(time_in_root)
            .or_else(|| ld.published.clone());

        let url = canonical
            .or_else(|| get("og:url"))
            .or_else(|| ld.url.clone());
        let language = html_lang
            .or_else(|| {
                get("content-language")
                    .as_deref()
                    .and_then(normalise_language)
            })
            .or_else(|| get("og:locale").as_deref().and_then(normalise_language))
            .or_else(|| ld.language.as_deref().and_then(normalise_language));

        Extracted {
            title,
            source,
            url,
            published_at,
            language,
            body: String::new(),
        }
    }
}

/// Deepest element nesting handed to the parser (Chromium caps its DOM depth at the same).
const MAX_NESTING: usize = 512;

/// Elements without content: never open on the parser's stack.
const VOID_TAGS: &[&str] = &[
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img", "input",
    "keygen", "link", "meta", "param", "source", "track", "wbr",
];

/// Elements the parser closes implicitly and which therefore do not pile up when unclosed.
const IMPLIED_END_TAGS: &[&str] = &[
    "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "tbody", "thead", "tfoot",
    "colgroup", "caption", "rb", "rt", "rtc", "rp", "html", "head", "body",
];

/// Elements whose content is text up to their end tag, not markup.
const RAW_TEXT_TAGS: &[&str] = &[
    "script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "textarea", "title",
];

/// Removes start and end tags nested deeper than [`MAX_NESTING`].
///
/// html5ever walks its stack of open elements for many start tags, so thousands of nested
/// blocks cost quadratic time (a megabyte of `<div>` takes about a minute). Real pages nest a
/// few dozen levels; beyond the cap the tags go and their text stays. A light tokenizer
/// estimates the depth, skipping comments, raw text and quoted attribute values; input within
/// the cap is returned untouched.
fn cap_nesting(html: &str) -> Cow<'_, str> {
    struct Open {
        name: String,
        kept: bool,
    }
    let bytes = html.as_bytes();
    let mut drops: Vec<(usize, usize)> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut open_count: HashMap<String, usize> = HashMap::new();
    let mut kept_depth = 0usize;
    let mut foreign = 0usize;
    let mut i = 0usize;
    while let Some(offset) = bytes
        .get(i..)
        .and_then(|rest| rest.iter().position(|&b| b == b'<'))
    {
        let start = i + offset;
        let next = bytes.get(start + 1).copied().unwrap_or(0);
        let after = bytes.get(start + 2).copied().unwrap_or(0);
        if html.get(start..).is_some_and(|r| r.starts_with("<!--")) {
            match find_from(html, start + 4, "-->") {
                Some(end) => i = end + 3,
                None => break,
            }
            continue;
        }
        if html
            .get(start..)
            .is_some_and(|r| r.starts_with("<![CDATA["))
        {
            match find_from(html, start + 9, "]]>") {
                Some(end) => i = end + 3,
                None => break,
            }
            continue;
        }
        let is_end = next == b'/';
        let name_start = if is_end { start + 2 } else { start + 1 };
        let first = if is_end { after } else { next };
        if !first.is_ascii_alphabetic() {
            if matches!(next, b'!' | b'?') || is_end {
                // Declarations, processing instructions and bogus end tags run to '>'.
                match find_from(html, start + 1, ">") {
                    Some(end) => i = end + 1,
                    None => break,
                }
            } else {
                i = start + 1;
            }
            continue;
        }
        let name_len = bytes
            .get(name_start..)
            .and_then(|rest| {
                rest.iter()
                    .position(|&b| b.is_ascii_whitespace() || b == b'/' || b == b'>')
            })
            .unwrap_or(bytes.len().saturating_sub(name_start));
        let name = html
            .get(name_start..name_start + name_len)
            .unwrap_or("")
            .to_ascii_lowercase();
        let Some((end, self_closing)) = tag_end(bytes, name_start + name_len) else {
            break;
        };
        i = end;
        if is_end {
            if open_count.get(&name).copied().unwrap_or(0) == 0 {
                continue;
            }
            // Popping to the matching entry also closes what the parser would close implicitly.
            while let Some(open) = stack.pop() {
                if let Some(count) = open_count.get_mut(&open.name) {
                    *count = count.saturating_sub(1);
                }
                if open.kept {
                    kept_depth = kept_depth.saturating_sub(1);
                }
                if open.name == "svg" || open.name == "math" {
                    foreign = foreign.saturating_sub(1);
                }
                if open.name == name {
                    if !open.kept {
                        drops.push((start, end));
                    }
                    break;
                }
            }
            continue;
        }
        let name_str = name.as_str();
        if VOID_TAGS.contains(&name_str)
            || IMPLIED_END_TAGS.contains(&name_str)
            || (self_closing && foreign > 0)
        {
            continue;
        }
        if foreign == 0 && RAW_TEXT_TAGS.contains(&name_str) {
            match find_end_tag(html, end, name_str) {
                Some(close) => i = close,
                None => break,
            }
            continue;
        }
        if foreign == 0 && name_str == "plaintext" {
            break;
        }
        let kept = kept_depth < MAX_NESTING;
        if kept {
            kept_depth += 1;
        } else {
            drops.push((start, end));
        }
        if name_str == "svg" || name_str == "math" {
            foreign += 1;
        }
        *open_count.entry(name.clone()).or_insert(0) += 1;
        stack.push(Open { name, kept });
    }
    if drops.is_empty() {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len());
    let mut copied = 0;
    for (start, end) in drops {
        out.push_str(html.get(copied..start).unwrap_or(""));
        copied = end;
    }
    out.push_str(html.get(copied..).unwrap_or(""));
    Cow::Owned(out)
}

fn find_from(haystack: &str, from: usize, needle: &str) -> Option<usize> {
    haystack.get(from..)?.find(needle).map(|i| i + from)
}

/// End of the tag whose attributes start at `from`: index after its '>' and whether it ends
/// in "/>". Quotes only delimit a value right after '=', as in the HTML tokenizer.
fn tag_end(bytes: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut quote: Option<u8> = None;
    let mut previous = 0u8;
    for (offset, &b) in bytes.get(from..)?.iter().enumerate() {
        if let Some(q) = quote {
            if b == q {
                quote = None;
                previous = b;
            }
            continue;
        }
        match b {
            b'>' => return Some((from + offset + 1, previous == b'/')),
            b'"' | b'\'' if previous == b'=' => quote = Some(b),
            _ => {}
        }
        if !b.is_ascii_whitespace() {
            previous = b;
        }
    }
    None
}

/// Index just past the end tag `</name ...>` of a raw-text element, searched from `from`.
fn find_end_tag(html: &str, from: usize, name: &str) -> Option<usize> {
    let bytes = html.as_bytes();
    let mut at = from;
    loop {
        let open = find_from(html, at, "</")?;
        let name_end = open + 2 + name.len();
        let matches = html
            .get(open + 2..name_end)
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
            && bytes
                .get(name_end)
                .is_none_or(|&b| b.is_ascii_whitespace() || b == b'/' || b == b'>');
        if matches {
            return tag_end(bytes, name_end).map(|(end, _)| end);
        }
        at = open + 2;
    }
}

fn attr_of<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn is_hidden(attrs: &[(String, String)]) -> bool {
    if attr_of(attrs, "hidden").is_some() {
        return true;
    }
    attr_of(attrs, "style").is_some_and(|style| {
        let style: String = style
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        style.contains("display:none") || style.contains("visibility:hidden")
    })
}

/// Whether a class or id attribute names boilerplate.
fn is_boilerplate_name(value: &str) -> bool {
    value.split_whitespace().any(|token| {
        SCREEN_READER_CLASSES
            .iter()
            .any(|c| token.eq_ignore_ascii_case(c))
            || words(token).iter().any(|word| {
                BOILERPLATE_WORDS.contains(&word.as_str())
                    || BOILERPLATE_PREFIXES.iter().any(|p| word.starts_with(p))
            })
    })
}

/// Splits a class token into lower-case words at punctuation and camelCase boundaries.
fn words(token: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in token.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Characters that render as nothing and would otherwise split or glue words unpredictably.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{ad}' | '\u{200b}' | '\u{2060}' | '\u{feff}')
        || (c.is_control() && !c.is_whitespace())
}

fn visible_len(text: &str) -> usize {
    text.chars()
        .filter(|c| !c.is_whitespace() && !is_invisible(*c))
        .count()
}

/// Collapses whitespace to single spaces and trims; `None` when nothing visible is left.
pub(crate) fn clean(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if is_invisible(c) {
            continue;
        }
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    (!out.is_empty()).then_some(out)
}

/// Removes an outlet name prefixed or suffixed to a headline ("Pact signed | The Ledger").
fn strip_site_name(title: &str, site_names: &[String]) -> String {
    let is_site = |part: &str| {
        let part = part.trim();
        !part.is_empty()
            && site_names
                .iter()
                .any(|site| site.trim().to_lowercase() == part.to_lowercase())
    };
    for separator in [" | ", " - ", " – ", " — ", " · ", " :: "] {
        if let Some((head, tail)) = title.rsplit_once(separator)
            && is_site(tail)
            && !head.trim().is_empty()
        {
            return head.trim().to_string();
        }
        if let Some((head, tail)) = title.split_once(separator)
            && is_site(head)
            && !tail.trim().is_empty()
        {
            return tail.trim().to_string();
        }
    }
    title.to_string()
}

/// The few schema.org facts read from `<script type="application/ld+json">`.
#[derive(Debug, Default)]
struct LinkedData {
    published: Option<String>,
    publisher: Option<String>,
    url: Option<String>,
    language: Option<String>,
}

impl LinkedData {
    fn from_scripts(scripts: &[String]) -> LinkedData {
        let values: Vec<Value> = scripts
            .iter()
            .filter_map(|s| serde_json::from_str(&sanitize_json(s)).ok())
            .collect();
        let mut objects = Vec::new();
        for value in &values {
            flatten_json(value, &mut objects, 0);
        }
        let string = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).and_then(clean);
        let article = objects
            .iter()
            .find(|o| string(o, "datePublished").is_some() && is_article(o))
            .or_else(|| {
                objects
                    .iter()
                    .find(|o| string(o, "datePublished").is_some())
            })
            .or_else(|| objects.iter().find(|o| is_article(o)))
            .copied();
        let resolve = |p: &Value| resolve_publisher(p, &objects);
        let publisher = article
            .and_then(|a| a.get("publisher"))
            .and_then(resolve)
            .or_else(|| {
                objects
                    .iter()
                    .find_map(|o| o.get("publisher").and_then(resolve))
            });
        let url = article.and_then(|a| {
            string(a, "url").or_else(|| {
                let main = a.get("mainEntityOfPage")?;
                main.as_str()
                    .and_then(clean)
                    .or_else(|| string(main, "@id"))
            })
        });
        LinkedData {
            published: article.and_then(|a| string(a, "datePublished")),
            publisher,
            url,
            language: article.and_then(|a| string(a, "inLanguage")),
        }
    }
}

/// Publishers embed JSON-LD inside comment or CDATA guards and often leave raw newlines inside
/// strings, which strict JSON rejects; control characters are white space elsewhere anyway.
fn sanitize_json(script: &str) -> String {
    let mut text = script.trim();
    for guard in ["<!--", "//<![CDATA[", "<![CDATA["] {
        text = text.strip_prefix(guard).unwrap_or(text).trim();
    }
    for guard in ["-->", "//]]>", "]]>"] {
        text = text.strip_suffix(guard).unwrap_or(text).trim();
    }
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn flatten_json<'a>(value: &'a Value, out: &mut Vec<&'a Value>, depth: u8) {
    // JSON-LD puts nodes at most an array and a @graph deep; deeper values are not entities.
    if depth > 4 {
        return;
    }
    match value {
        Value::Array(items) => {
            for item in items {
                flatten_json(item, out, depth + 1);
            }
        }
        Value::Object(map) => {
            out.push(value);
            if let Some(graph) = map.get("@graph") {
                flatten_json(graph, out, depth + 1);
            }
        }
        _ => {}
    }
}

fn is_article(value: &Value) -> bool {
    let is_article_type = |t: &str| {
        let name = t.rsplit(['/', ':', '#']).next().unwrap_or(t);
        name.ends_with("Article") || name.ends_with("Posting") || name == "Report"
    };
    match value.get("@type") {
        Some(Value::String(t)) => is_article_type(t),
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).any(is_article_type),
        _ => false,
    }
}

fn resolve_publisher(publisher: &Value, objects: &[&Value]) -> Option<String> {
    match publisher {
        Value::String(name) => clean(name),
        Value::Array(items) => items.iter().find_map(|p| resolve_publisher(p, objects)),
        Value::Object(map) => map
            .get("name")
            .and_then(Value::as_str)
            .and_then(clean)
            .or_else(|| {
                // In a @graph the publisher is usually a reference to an Organization node.
                let id = map.get("@id").and_then(Value::as_str)?;
                objects
                    .iter()
                    .filter(|o| o.get("@id").and_then(Value::as_str) == Some(id))
                    .find_map(|o| o.get("name").and_then(Value::as_str).and_then(clean))
            }),
        _ => None,
    }
}

/// What separates the text that follows from the text already on the line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Gap {
    #[default]
    None,
    Space,
    Cell,
}

/// Layout role of an HTML element in the extracted text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Paragraph,
    Line,
    /// A line whose inner paragraphs stay lines (list items, definition terms).
    ListItem,
    Cell,
    Break,
    Preformatted,
    Inline,
}

fn layout(tag: &str) -> Layout {
    match tag {
        "p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "div" | "section" | "article" | "main"
        | "blockquote" | "address" | "body" | "html" | "caption" | "center" | "details"
        | "summary" | "dialog" | "dir" | "dl" | "fieldset" | "legend" | "figure" | "figcaption"
        | "footer" | "header" | "hgroup" | "hr" | "menu" | "nav" | "ol" | "ul" | "table"
        | "thead" | "tbody" | "tfoot" | "form" | "aside" | "search" => Layout::Paragraph,
        "li" | "dt" | "dd" => Layout::ListItem,
        "tr" => Layout::Line,
        "td" | "th" => Layout::Cell,
        "br" => Layout::Break,
        "pre" | "listing" | "plaintext" => Layout::Preformatted,
        _ => Layout::Inline,
    }
}

/// Accumulates text into paragraphs (separated by "\n\n") made of lines (separated by "\n"),
/// collapsing white space the way a browser renders it. Shared with the Markdown extractor.
#[derive(Debug, Default)]
pub(crate) struct TextWriter {
    out: String,
    block: String,
    line: String,
    gap: Gap,
    /// Depth of list items: paragraphs inside them are lines of the list, not new paragraphs.
    list_depth: usize,
    pre_depth: usize,
    /// Consecutive `<br>` since the last visible character: two in a row end a paragraph.
    breaks: u8,
}

impl TextWriter {
    /// Appends text, collapsing white space; inside preformatted text newlines end lines.
    pub(crate) fn push_text(&mut self, text: &str) {
        for c in text.chars() {
            if is_invisible(c) {
                continue;
            }
            if c == '\n' && self.pre_depth > 0 {
                self.line_break();
                continue;
            }
            if c.is_whitespace() {
                if !self.line.is_empty() {
                    self.gap = self.gap.max(Gap::Space);
                }
                continue;
            }
            if !self.line.is_empty() {
                match self.gap {
                    Gap::None => {}
                    Gap::Space => self.line.push(' '),
                    Gap::Cell => self.line.push_str(" ; "),
                }
            }
            self.gap = Gap::None;
            self.breaks = 0;
            self.line.push(c);
        }
    }

    /// Ends the current line; the next text starts a new line of the same paragraph.
    pub(crate) fn line_break(&mut self) {
        if !self.line.is_empty() {
            if !self.block.is_empty() {
                self.block.push('\n');
            }
            self.block.push_str(&self.line);
            self.line.clear();
        }
        self.gap = Gap::None;
    }

    /// Ends the current paragraph (only the line inside a list item).
    pub(crate) fn paragraph_break(&mut self) {
        self.line_break();
        if self.list_depth > 0 || self.block.is_empty() {
            return;
        }
        if !self.out.is_empty() {
            self.out.push_str("\n\n");
        }
        self.out.push_str(&self.block);
        self.block.clear();
    }

    /// An explicit line break (`<br>`, a Markdown hard break); two in a row end the paragraph.
    pub(crate) fn hard_break(&mut self) {
        self.breaks = self.breaks.saturating_add(1);
        if self.breaks >= 2 {
            self.paragraph_break();
        } else {
            self.line_break();
        }
    }

    /// Starts a table cell: separated from the previous cell of the row by " ; ".
    pub(crate) fn cell(&mut self) {
        if !self.line.is_empty() {
            self.gap = Gap::Cell;
        }
    }

    /// Starts a list item: its own line, and its paragraphs stay lines.
    pub(crate) fn enter_list_item(&mut self) {
        self.line_break();
        self.list_depth += 1;
    }

    /// Ends a list item.
    pub(crate) fn leave_list_item(&mut self) {
        self.line_break();
        self.list_depth = self.list_depth.saturating_sub(1);
    }

    fn open(&mut self, tag: &str) {
        match layout(tag) {
            Layout::Paragraph => self.paragraph_break(),
            Layout::Line => self.line_break(),
            Layout::ListItem => self.enter_list_item(),
            Layout::Cell => self.cell(),
            Layout::Break => self.hard_break(),
            Layout::Preformatted => {
                self.paragraph_break();
                self.pre_depth += 1;
            }
            Layout::Inline => {}
        }
    }

    fn close(&mut self, tag: &str) {
        match layout(tag) {
            Layout::Paragraph => self.paragraph_break(),
            Layout::Line => self.line_break(),
            Layout::ListItem => self.leave_list_item(),
            Layout::Preformatted => {
                self.pre_depth = self.pre_depth.saturating_sub(1);
                self.paragraph_break();
            }
            Layout::Cell | Layout::Break | Layout::Inline => {}
        }
    }

    /// The finished text.
    pub(crate) fn finish(mut self) -> String {
        self.list_depth = 0;
        self.paragraph_break();
        self.out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const PACT_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en-GB">
<head>
  <meta charset="utf-8">
  <title>Baltic neighbours sign mutual defence pact | The Harbour Times</title>
  <meta property="og:title" content="Estonia and Finland sign mutual defence pact">
  <meta property="og:site_name" content="The Harbour Times">
  <meta property="og:url" content="https://harbourtimes.example/world/2025/03/defence-pact?utm=feed">
  <meta property="article:published_time" content="2025-03-14T09:30:00+02:00">
  <link rel="canonical" href="https://harbourtimes.example/world/2025/03/defence-pact">
  <script>window.dataLayer = [{"section": "world"}];</script>
  <script type="application/ld+json">
  {"@context": "https://schema.org", "@type": "NewsArticle",
   "headline": "Estonia and Finland sign mutual defence pact",
   "datePublished": "2025-03-14T07:30:00Z",
   "publisher": {"@type": "NewsMediaOrganization", "name": "Harbour Times Ltd"}}
  </script>
  <style>.share-bar { display: flex; }</style>
</head>
<body class="article-page">
  <div id="cookie-consent" class="banner">
    <p>We use cookies to improve your experience. By continuing you accept our policy.</p>
    <button>Accept all</button>
  </div>
  <header class="site-header">
    <a href="/" class="logo">The Harbour Times</a>
    <nav><ul><li><a href="/world">World</a></li><li><a href="/business">Business</a></li>
      <li><a href="/sport">Sport</a></li></ul></nav>
  </header>
  <main id="content">
    <article class="story">
      <header class="story-header">
        <h1>Estonia and Finland sign mutual defence pact</h1>
        <p class="byline">By Maarja Tamm, Tallinn correspondent</p>
        <time datetime="2025-03-14T09:30">14 March 2025</time>
      </header>
      <div class="share-bar">
        <a href="https://social.example/share">Share on Chirp</a>
        <a href="mailto:?subject=pact">Email</a>
      </div>
      <figure>
        <img src="/img/ministers.jpg" alt="The two ministers shake hands">
        <figcaption>The defence ministers met in Tallinn on Friday.</figcaption>
      </figure>
      <div class="story-body" itemprop="articleBody">
        <p>Estonia and Finland signed a mutual defence pact on Friday, committing each
           country to come to the other&rsquo;s aid if attacked.</p>
        <p>The agreement, reached after <a href="/world/talks">eight months of talks</a>,
           also allows <em>joint</em> air patrols over the Gulf of Finland.</p>
        <div class="ad-slot" id="ad-mpu-1">Advertisement</div>
        <h2>Troops and exercises</h2>
        <p>Under the deal, each side will station up to 1,200 troops on the other&#39;s
           territory for exercises.</p>
        <blockquote><p>&ldquo;This is a historic day for our region,&rdquo; the Estonian
           prime minister told reporters.</p></blockquote>
        <ul>
          <li>Joint air patrols start in June.</li>
          <li>A shared command centre opens in Helsinki.</li>
        </ul>
        <script>loadPoll("pact");</script>
        <p>Critics in both parliaments said the pact had been rushed.</p>
      </div>
      <section class="more-stories">
        <h3>Related stories</h3>
        <ul>
          <li><a href="/world/1">Finland raises defence budget</a></li>
          <li><a href="/world/2">Estonia opens new border post</a></li>
          <li><a href="/world/3">Nordic ministers meet in Oslo</a></li>
        </ul>
      </section>
      <footer class="story-footer"><p>Copyright 2025 The Harbour Times</p></footer>
    </article>
    <aside class="most-read"><h2>Most read</h2><ol><li><a href="/a">Storm hits coast</a></li></ol></aside>
  </main>
  <footer><p>Contact us | Privacy | Terms</p></footer>
  <div class="newsletter-signup"><p>Get the morning briefing in your inbox every day.</p></div>
</body>
</html>"#;

    #[test]
    fn full_news_page_keeps_only_the_story() {
        let got = extract_html(PACT_PAGE);
        assert_eq!(
            got.title.as_deref(),
            Some("Estonia and Finland sign mutual defence pact")
        );
        assert_eq!(got.source.as_deref(), Some("The Harbour Times"));
        assert_eq!(
            got.url.as_deref(),
            Some("https://harbourtimes.example/world/2025/03/defence-pact")
        );
        assert_eq!(
            got.published_at.as_deref(),
            Some("2025-03-14T09:30:00+02:00")
        );
        assert_eq!(got.language.as_deref(), Some("en"));
        let expected = "Estonia and Finland signed a mutual defence pact on Friday, committing \
each country to come to the other\u{2019}s aid if attacked.\n\n\
The agreement, reached after eight months of talks, also allows joint air patrols over the \
Gulf of Finland.\n\n\
Troops and exercises\n\n\
Under the deal, each side will station up to 1,200 troops on the other's territory for \
exercises.\n\n\
\u{201c}This is a historic day for our region,\u{201d} the Estonian prime minister told \
reporters.\n\n\
Joint air patrols start in June.\nA shared command centre opens in Helsinki.\n\n\
Critics in both parliaments said the pact had been rushed.";
        assert_eq!(got.body, expected);
    }

    #[test]
    fn json_ld_graph_supplies_date_publisher_and_url() {
        let page = r#"<html><head>
            <title>Ports reopen after strike - Coastal Wire</title>
            <script type="application/ld+json">
            <!--
            {"@context": "https://schema.org", "@graph": [
              {"@type": "WebSite", "@id": "https://coastalwire.example/#site"},
              {"@type": "Organization", "@id": "https://coastalwire.example/#org",
               "name": "Coastal Wire"},
              {"@type": ["NewsArticle"], "headline": "Ports reopen",
               "datePublished": "2025-06-02 08:15",
               "inLanguage": "de-AT",
               "mainEntityOfPage": {"@id": "https://coastalwire.example/ports"},
               "publisher": {"@id": "https://coastalwire.example/#org"},
               "description": "Dock workers
                  ended their strike."}
            ]}
            -->
            </script></head>
            <body><article><p>Dock workers ended a three-day strike on Monday.</p></article>
            </body></html>"#;
        let got = extract_html(page);
        assert_eq!(got.published_at.as_deref(), Some("2025-06-02 08:15"));
        assert_eq!(got.source.as_deref(), Some("Coastal Wire"));
        assert_eq!(got.title.as_deref(), Some("Ports reopen after strike"));
        assert_eq!(
            got.url.as_deref(),
            Some("https://coastalwire.example/ports")
        );
        assert_eq!(got.language.as_deref(), Some("de"));
        assert_eq!(got.body, "Dock workers ended a three-day strike on Monday.");
    }

    #[test]
    fn page_without_article_uses_main_then_densest_block() {
        let with_main = r#"<html><body>
            <div class="top"><a href="/">Home</a></div>
            <main><h1>Grain exports resume</h1>
              <p>Ukraine resumed grain exports from Odesa on Tuesday.</p>
              <p>Three ships left the port before dawn.</p></main>
            <div class="footer-links"><p>About us</p></div>
            </body></html>"#;
        let got = extract_html(with_main);
        assert_eq!(got.title.as_deref(), Some("Grain exports resume"));
        assert_eq!(
            got.body,
            "Grain exports resume\n\nUkraine resumed grain exports from Odesa on Tuesday.\n\n\
             Three ships left the port before dawn."
        );

        let bare = r#"<html><head><title>Election called</title>
            <meta name="application-name" content="Valley Post">
            <meta http-equiv="content-language" content="fr-CA">
            <meta name="DC.date.issued" content="2025-01-09"></head><body>
            <div id="menu"><p>Home</p><p>News</p></div>
            <div id="story">
              <p>The prime minister called a snap election for April.</p>
              <p>Opposition parties said they were ready for the campaign.</p>
              <div>Voters go to the polls on 28 April.</div>
            </div>
            <div id="links"><p>Weather</p></div></body></html>"#;
        let got = extract_html(bare);
        assert_eq!(got.title.as_deref(), Some("Election called"));
        assert_eq!(got.source.as_deref(), Some("Valley Post"));
        assert_eq!(got.language.as_deref(), Some("fr"));
        assert_eq!(got.published_at.as_deref(), Some("2025-01-09"));
        assert_eq!(
            got.body,
            "The prime minister called a snap election for April.\n\n\
             Opposition parties said they were ready for the campaign.\n\n\
             Voters go to the polls on 28 April."
        );
    }

    #[test]
    fn teaser_articles_do_not_win_over_the_story() {
        let page = r#"<html><body>
            <div class="story-body">
              <p>Parliament approved the defence budget by 101 votes to 40 on Wednesday,
                 after a debate that ran late into the night.</p>
              <p>The budget raises spending to three percent of economic output by 2027 and
                 funds two new air-defence batteries near the eastern border.</p>
              <p>The finance minister said the increase would be paid for by a temporary levy
                 on bank profits.</p>
            </div>
            <section class="more">
              <article><h3>Farmers protest</h3><p>Tractors blocked the ring road.</p></article>
              <article><h3>New ferry line</h3><p>A ferry will link the islands.</p></article>
            </section></body></html>"#;
        let got = extract_html(page);
        assert!(got.body.starts_with("Parliament approved"), "{}", got.body);
        assert!(got.body.ends_with("on bank profits."), "{}", got.body);
    }

    #[test]
    fn linked_sentence_is_not_a_link_list() {
        let got = extract_html(
            "<article><p><a href=\"/e\">Estonia</a>, <a href=\"/l\">Latvia</a> and \
             <a href=\"/t\">Lithuania</a> joined.</p><div class=\"tags\"><a href=\"/1\">Defence</a>\
             <a href=\"/2\">Baltics</a><a href=\"/3\">NATO</a></div></article>",
        );
        assert_eq!(got.body, "Estonia, Latvia and Lithuania joined.");
    }

    #[test]
    fn time_element_is_the_only_date() {
        let page = r#"<html><body>
            <aside><time datetime="2020-01-01">Old teaser</time></aside>
            <article>
              <header><h1>Bridge<br>closed <script>track()</script></h1><time datetime="2025-11-20T06:00:00Z">
                20 November</time></header>
              <p>The river bridge was closed after cracks were found.</p>
              <p>Engineers will inspect it <time datetime="2025-11-21">tomorrow</time>.</p>
            </article></body></html>"#;
        let got = extract_html(page);
        assert_eq!(got.published_at.as_deref(), Some("2025-11-20T06:00:00Z"));
        assert_eq!(got.title.as_deref(), Some("Bridge closed"));
        assert_eq!(
            got.body,
            "The river bridge was closed after cracks were found.\n\n\
             Engineers will inspect it tomorrow."
        );
    }

    #[test]
    fn entities_are_decoded() {
        let got = extract_html(
            "<p>Smith &amp; Sons&nbsp;said &#8220;no&#8221; to the &lt;deal&gt; &eacute;t&#xE9;.</p>",
        );
        assert_eq!(
            got.body,
            "Smith & Sons said \u{201c}no\u{201d} to the <deal> \u{e9}t\u{e9}."
        );
    }

    #[test]
    fn inline_tags_keep_source_spacing() {
        let got = extract_html(
            "<p><b>Se</b>oul and\n   <a href=\"/t\">Tokyo</a><span> agreed</span>,<em>quietly</em>, \
             to talk.<br>New line<sup>1</sup> here.</p><p>Next<wbr>word and <i>more</i> </p>",
        );
        assert_eq!(
            got.body,
            "Seoul and Tokyo agreed,quietly, to talk.\nNew line1 here.\n\nNextword and more"
        );
    }

    #[test]
    fn lists_tables_and_double_breaks() {
        let got = extract_html(
            "<div><p>Key points:</p><ul><li>One</li><li><p>Two</p><ul><li>Two a</li></ul></li>\
             </ul><table><tr><th>Country</th><th>Troops</th></tr>\
             <tr><td>Estonia</td><td></td><td>1,200</td></tr></table>\
             <dl><dt>Pact</dt><dd>Signed Friday</dd></dl>\
             Line one<br><br>Line two</div>",
        );
        assert_eq!(
            got.body,
            "Key points:\n\nOne\nTwo\nTwo a\n\nCountry ; Troops\nEstonia ; 1,200\n\n\
             Pact\nSigned Friday\n\nLine one\n\nLine two"
        );
    }

    #[test]
    fn hidden_and_boilerplate_are_dropped() {
        let got = extract_html(
            "<article><p>Visible story text.</p><p hidden>Hidden one.</p>\
             <p style=\"display: none\">Hidden two.</p>\
             <div class=\"headerAd\">Advert</div><div class=\"heading shadow load-more\">\
             <p>Kept because heading is not ad.</p></div>\
             <span class=\"sr-only\">Share this</span>\
             <div><a href=\"/1\">One</a> <a href=\"/2\">Two</a> <a href=\"/3\">Three</a></div></article>",
        );
        assert_eq!(
            got.body,
            "Visible story text.\n\nKept because heading is not ad."
        );
    }

    #[test]
    fn wrapper_with_boilerplate_name_keeps_the_story() {
        // ASP.NET pages wrap everything in a form; some themes name the story wrapper after
        // its sidebar layout. Neither may take the story down with it.
        let got = extract_html(
            "<body><form id=\"aspnetForm\"><div class=\"content with-sidebar\">\
             <p>The council approved the budget on Thursday night.</p>\
             <p>It includes funds for two new schools.</p></div>\
             <div class=\"sidebar\"><p>Weather: sunny.</p></div></form></body>",
        );
        assert_eq!(
            got.body,
            "The council approved the budget on Thursday night.\n\n\
             It includes funds for two new schools."
        );
    }

    #[test]
    fn class_words_match_whole_words() {
        for name in [
            "header-ad",
            "adSlot",
            "share_bar",
            "relatedStories",
            "cookie-banner",
        ] {
            assert!(is_boilerplate_name(name), "{name} should be boilerplate");
        }
        for name in [
            "heading",
            "shadow",
            "load-more",
            "download",
            "story-body",
            "headline",
        ] {
            assert!(!is_boilerplate_name(name), "{name} should be kept");
        }
    }

    #[test]
    fn title_suffix_and_language_forms() {
        let sites = vec!["The Ledger".to_string()];
        assert_eq!(
            strip_site_name("Pact signed | The Ledger", &sites),
            "Pact signed"
        );
        assert_eq!(
            strip_site_name("The Ledger - Pact signed", &sites),
            "Pact signed"
        );
        assert_eq!(
            strip_site_name("Pact signed - Analysis", &sites),
            "Pact signed - Analysis"
        );
        assert_eq!(normalise_language("pt_BR").as_deref(), Some("pt"));
        assert_eq!(normalise_language("EN").as_deref(), Some("en"));
        assert_eq!(normalise_language("x-default"), None);
        assert_eq!(normalise_language(""), None);
    }

    #[test]
    fn empty_and_garbage_input() {
        assert_eq!(extract_html(""), Extracted::default());
        assert_eq!(extract_html("   \n\t"), Extracted::default());
        for garbage in [
            "<<<>>>",
            "</p></div></body>",
            "<p",
            "<script>unterminated",
            "<table><td><li><p>x</table></li>",
            "\u{0}\u{1}\u{fffd}<\u{0}p>",
            "<html lang=\"\u{1F600}\"><meta property=\"og:title\" content=\"\">",
            "<script type=\"application/ld+json\">{\"@graph\": [[[[[[{}]]]]]]</script>",
        ] {
            let got = extract_html(garbage);
            assert!(!got.body.contains("\n\n\n"), "{garbage:?}");
            assert_eq!(got.body.trim(), got.body, "{garbage:?}");
        }
        assert_eq!(extract_html("<table><td><li><p>x</table></li>").body, "x");
    }

    #[test]
    fn nesting_cap_leaves_real_pages_alone() {
        assert!(matches!(cap_nesting(PACT_PAGE), Cow::Borrowed(_)));
        let tricky = format!(
            "<script>var s = '{}';</script><!-- {} --><p title=\"a>b\">ok</p>",
            "<div>".repeat(2 * MAX_NESTING),
            "<div>".repeat(2 * MAX_NESTING)
        );
        assert!(matches!(cap_nesting(&tricky), Cow::Borrowed(_)));
        let deep = format!("{}x{}", "<section>".repeat(600), "</section>".repeat(600));
        let capped = cap_nesting(&deep);
        assert_eq!(capped.matches("<section>").count(), MAX_NESTING);
        assert_eq!(capped.matches("</section>").count(), MAX_NESTING);
    }

    /// Random soup of markup fragments: no panic, and the body keeps its layout promises.
    #[test]
    fn random_markup_soup_holds_invariants() {
        const FRAGMENTS: &[&str] = &[
            "<div>",
            "</div>",
            "<p>",
            "</p>",
            "<li>",
            "<ul>",
            "</ul>",
            "<br>",
            "<b>",
            "</b>",
            "<table>",
            "<td>",
            "<tr>",
            "<script>",
            "</script>",
            "<!--",
            "-->",
            "<![CDATA[",
            "]]>",
            "<svg>",
            "<path/>",
            "</svg>",
            "<article class=\"share\">",
            "</article>",
            "<pre>",
            "</pre>",
            "<a href=\"x\">",
            "</a>",
            "=\"",
            "'",
            ">",
            "<",
            "</",
            "&amp;",
            "&#",
            "&#x1F600;",
            "&nbsp;",
            " ",
            "\n",
            "word",
            "Se",
            "oul",
            ".",
            "\u{e9}",
            "\u{0}",
            "\u{200b}",
            "<title>",
            "</title>",
            "<meta property=og:title content=x>",
            "<html lang=EN-us>",
            "<x-y/>",
            "<!doctype html>",
            "<?xml?>",
            "<plaintext>",
        ];
        proptest::proptest!(|(picks in proptest::collection::vec(0..FRAGMENTS.len(), 0..400))| {
            let page: String = picks.iter().map(|&i| FRAGMENTS[i]).collect();
            let got = extract_html(&page);
            assert_readable_body(&got.body, &page);
            for value in [&got.title, &got.source, &got.url, &got.language]
                .into_iter()
                .flatten()
            {
                proptest::prop_assert_eq!(value.trim(), value.as_str(), "{:?}", page);
            }
        });
    }

    /// What every extracted body holds, whatever the input: trimmed, paragraphs separated by
    /// one blank line, single spaces, no space at a line's ends.
    pub(crate) fn assert_readable_body(body: &str, input: &str) {
        assert_eq!(body.trim(), body, "{input:?}");
        assert!(!body.contains("\n\n\n"), "{input:?}");
        assert!(!body.contains("  "), "{input:?}");
        assert!(!body.contains(" \n") && !body.contains("\n "), "{input:?}");
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let depth = 100_000;
        let page = format!(
            "{}Deep text.{}",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        );
        assert_eq!(extract_html(&page).body, "Deep text.");
        let page = format!(
            "{}Bold.{}",
            "<b><i>".repeat(depth),
            "</i></b>".repeat(depth)
        );
        assert_eq!(extract_html(&page).body, "Bold.");
        let page = format!(
            "{}<p>First.</p>{}",
            "<div><span>".repeat(depth),
            "<div>Sibling.</div>".repeat(depth / 10)
        );
        // Past the cap the tags go and the text stays.
        let body = extract_html(&page).body;
        assert!(
            body.starts_with("First.\n\nSibling.Sibling."),
            "{}",
            body.chars().take(40).collect::<String>()
        );
        assert_eq!(body.matches("Sibling.").count(), depth / 10);
    }
}
