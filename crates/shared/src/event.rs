//! The wire contract: the JSON events that travel between the stages.
//!
//! Both event types carry a `schema` version. A consumer accepts any event whose
//! version it knows ([`SCHEMA_VERSION`] and older) and ignores fields it does not
//! know, so a newer producer can add optional fields without breaking older stages.
//! Offsets are UTF-8 byte offsets, `start` inclusive and `end` exclusive.

pub use compact_str::CompactString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

/// Version of the event schema this build writes and the newest it reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The category token used for sentences in which nothing was coded.
pub const CATEGORY_NONE: &str = "none";

/// A half-open byte range `[start, end)` into some text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What is known about the article a sentence comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ArticleMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Outlet or feed the article came from, e.g. `yonhap`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Publication time of the article (RFC 3339).
    #[serde(
        default,
        with = "rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>")]
    pub published_at: Option<OffsetDateTime>,
    /// Language of the article, as declared by its source (`en`) or detected (ISO 639-1 where
    /// one exists, else ISO 639-3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// One sentence of an article, with its provenance: the payload of `<prefix>.raw.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RawEvent {
    /// Schema version of this event (see `SCHEMA_VERSION`).
    pub schema: u32,
    /// `<article_id>-<sentence_index>`: stable, so the same sentence always has the same id.
    pub event_id: String,
    /// Content hash of the article's normalised body (32 hex digits).
    pub article_id: String,
    /// Position of the sentence in the article, from 0.
    pub sentence_index: u32,
    /// Number of sentences in the article.
    pub sentence_count: u32,
    /// The sentence, exactly `body[span.start..span.end]`.
    pub text: String,
    /// Where the sentence sits in the article body (UTF-8 byte offsets).
    pub span: Span,
    pub article: ArticleMeta,
    /// The day the sentence's event took place, when the sentence names one ("on Thursday",
    /// "on June 9"), resolved against the article's publication date (`YYYY-MM-DD`).
    #[serde(
        default,
        with = "iso_date::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>")]
    pub event_date: Option<Date>,
    /// When the producer read the article (RFC 3339).
    #[serde(with = "rfc3339")]
    #[schemars(with = "String")]
    pub ingested_at: OffsetDateTime,
}

/// Why an event could not be accepted: a poison message, never worth retrying.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("payload is not valid JSON for this event type: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported schema version {found} (this build reads 1..={SCHEMA_VERSION})")]
    Schema { found: u32 },
    #[error("invalid event: {0}")]
    Invalid(String),
}

impl RawEvent {
    /// The stable event id of a sentence.
    pub fn make_id(article_id: &str, sentence_index: u32) -> String {
        format!("{article_id}-{sentence_index}")
    }

    /// Whether `event_id` is [`RawEvent::make_id`]`(article_id, sentence_index)`, without
    /// making it.
    pub fn is_id(event_id: &str, article_id: &str, sentence_index: u32) -> bool {
        let Some(index) = event_id
            .strip_prefix(article_id)
            .and_then(|rest| rest.strip_prefix('-'))
        else {
            return false;
        };
        // Decimal as `make_id` writes it: digits only, no leading zero, no sign.
        index.bytes().all(|b| b.is_ascii_digit())
            && (index == "0" || !index.starts_with('0'))
            && index.parse::<u32>() == Ok(sentence_index)
    }

    /// Parses and validates a raw event from its JSON payload.
    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        let event: Self = serde_json::from_slice(payload)?;
        event.validate()?;
        Ok(event)
    }

    /// Checks the invariants JSON typing cannot express.
    pub fn validate(&self) -> Result<(), DecodeError> {
        check_schema(self.schema)?;
        if self.article_id.is_empty() || !self.article_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DecodeError::Invalid(format!(
                "article_id {:?} is not a hex content hash",
                self.article_id
            )));
        }
        check_event_id(&self.event_id, &self.article_id, self.sentence_index)?;
        if self.sentence_index >= self.sentence_count {
            return Err(DecodeError::Invalid(format!(
                "sentence_index {} is not below sentence_count {}",
                self.sentence_index, self.sentence_count
            )));
        }
        if self.span.end < self.span.start || self.span.len() != self.text.len() {
            return Err(DecodeError::Invalid(format!(
                "span {}..{} does not fit a text of {} bytes",
                self.span.start,
                self.span.end,
                self.text.len()
            )));
        }
        Ok(())
    }

    pub fn encode(&self) -> Vec<u8> {
        encode(
            self,
            512 + self.text.len() + self.article.title.as_ref().map_or(0, String::len),
        )
    }
}

/// An actor found in a sentence, coded CAMEO-style.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Actor {
    /// CAMEO-style code: country (ISO 3166-1 alpha-3) or international body, plus role,
    /// e.g. `RUSGOV`, `PRKMIL`, `KORMED`, `IGOUNO`; a bare country such as `KOR` when no role is known.
    #[schemars(with = "String")]
    pub code: CompactString,
    /// ISO 3166-1 alpha-3 country, or the body's code for international organisations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub country: Option<CompactString>,
    /// CAMEO role: GOV, MIL, COP, JUD, LEG, MED, OPP, REB, BUS, CVL, REF, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub role: Option<CompactString>,
    /// The text that named the actor.
    #[schemars(with = "String")]
    pub mention: CompactString,
    /// Where the mention sits in the sentence (UTF-8 byte offsets).
    pub span: Span,
    /// The dictionary entry that matched, e.g. `person:Vladimir Putin` or `country:KOR+role:GOV`.
    #[schemars(with = "String")]
    pub entry: CompactString,
}

/// How the sentence presents a coded event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// Reported as having happened or happening.
    Asserted,
    /// Explicitly did not happen ("has refrained from supplying").
    Negated,
    /// Conditional or speculative ("if Seoul provides weapons").
    Hypothetical,
    /// Announced, intended or expected ("will make decisions").
    Future,
}

impl Modality {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asserted => "asserted",
            Self::Negated => "negated",
            Self::Hypothetical => "hypothetical",
            Self::Future => "future",
        }
    }
}

/// One coded event ("who did what to whom") in a sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CodedEvent {
    /// CAMEO code as a string, 3 digits where the cue is specific (`057`), else the root plus `0` (`130`).
    #[schemars(with = "String")]
    pub code: CompactString,
    /// CAMEO root code, 2 digits (`13`).
    #[schemars(with = "String")]
    pub root: CompactString,
    /// CAMEO name of `code`.
    #[schemars(with = "String")]
    pub name: CompactString,
    /// Subject token of the root type, e.g. `threaten`, `provide_aid`.
    #[schemars(with = "String")]
    pub category: CompactString,
    /// 1 verbal cooperation (01-05), 2 material cooperation (06-09), 3 verbal conflict (10-14),
    /// 4 material conflict (15-20): GDELT's convention.
    pub quad_class: u8,
    /// Goldstein score of the event type, -10 to +10.
    pub goldstein: f32,
    /// PLOVER event type the code maps to (none for 01 and 02, which PLOVER dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub plover: Option<CompactString>,
    /// The cue phrase as written in the sentence.
    #[schemars(with = "String")]
    pub cue: CompactString,
    pub cue_span: Span,
    /// Code of the acting actor, where identifiable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub source: Option<CompactString>,
    /// Code of the receiving actor, where identifiable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub target: Option<CompactString>,
    /// The acting actor as written, when no dictionary actor stands there but a capitalised
    /// name does ("Wagner fighters seized ..."): kept as raw text rather than dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub source_text: Option<CompactString>,
    /// The receiving actor as written, when no dictionary actor stands there but a capitalised
    /// name does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub target_text: Option<CompactString>,
    pub modality: Modality,
    /// Confidence in [0, 1].
    pub confidence: f32,
}

/// A classified sentence: the payload of `<prefix>.tagged.<category>.<actor>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaggedEvent {
    /// Schema version of this event (see `SCHEMA_VERSION`).
    pub schema: u32,
    pub event_id: String,
    pub article_id: String,
    pub sentence_index: u32,
    pub sentence_count: u32,
    pub text: String,
    pub span: Span,
    pub article: ArticleMeta,
    /// The day of the event, when the sentence names one (see [`RawEvent::event_date`]).
    #[serde(
        default,
        with = "iso_date::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>")]
    pub event_date: Option<Date>,
    #[serde(with = "rfc3339")]
    #[schemars(with = "String")]
    pub ingested_at: OffsetDateTime,
    /// The primary category (the subject's category token): the first asserted event's, or `none`.
    #[schemars(with = "String")]
    pub category: CompactString,
    /// Every actor named in the sentence, once per code, in order of first mention.
    pub actors: Vec<Actor>,
    /// Every event coded in the sentence, in order of the cues.
    pub events: Vec<CodedEvent>,
    /// Who reports the sentence ("according to Yonhap"), kept apart from the actors of the events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter: Option<Actor>,
    /// Version of the classifier and its dictionaries.
    // One string, shared by every event a classifier tags.
    #[schemars(with = "String")]
    pub classifier_version: std::sync::Arc<str>,
    #[serde(with = "rfc3339")]
    #[schemars(with = "String")]
    pub classified_at: OffsetDateTime,
}

impl TaggedEvent {
    /// An untagged event made from `raw`, taking its fields over; the classifier fills in the
    /// tags.
    pub fn new(raw: RawEvent, classifier_version: &std::sync::Arc<str>) -> Self {
        Self {
            schema: SCHEMA_VERSION,
            event_id: raw.event_id,
            article_id: raw.article_id,
            sentence_index: raw.sentence_index,
            sentence_count: raw.sentence_count,
            text: raw.text,
            span: raw.span,
            article: raw.article,
            event_date: raw.event_date,
            ingested_at: raw.ingested_at,
            category: CompactString::const_new(CATEGORY_NONE),
            actors: Vec::new(),
            events: Vec::new(),
            reporter: None,
            classifier_version: std::sync::Arc::clone(classifier_version),
            classified_at: OffsetDateTime::now_utc(),
        }
    }

    /// The country (or body) token of the primary actor: the first event's source,
    /// else its target, else the first actor; `none` when the sentence names nobody.
    pub fn primary_actor_token(&self) -> &str {
        let code = self
            .events
            .iter()
            .find(|e| e.category == self.category)
            .and_then(|e| e.source.as_deref().or(e.target.as_deref()));
        let actor = match code {
            Some(code) => self.actors.iter().find(|a| a.code == code),
            None => self.actors.first(),
        };
        actor
            .map(|a| a.country.as_deref().unwrap_or(a.code.as_str()))
            .unwrap_or(CATEGORY_NONE)
    }

    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        Self::checked(serde_json::from_slice(payload)?)
    }

    /// [`TaggedEvent::decode`] of text already known to be UTF-8: its strings are not checked
    /// again one by one.
    pub fn decode_str(payload: &str) -> Result<Self, DecodeError> {
        Self::checked(serde_json::from_str(payload)?)
    }

    fn checked(event: Self) -> Result<Self, DecodeError> {
        check_schema(event.schema)?;
        if event.event_id.is_empty() || event.article_id.is_empty() {
            return Err(DecodeError::Invalid(
                "event_id and article_id must not be empty".into(),
            ));
        }
        // The SQLite store finds an article's events by this shape of their ids.
        check_event_id(&event.event_id, &event.article_id, event.sentence_index)?;
        Ok(event)
    }

    pub fn encode(&self) -> Vec<u8> {
        encode(
            self,
            768 + self.text.len() + 256 * self.actors.len() + 512 * self.events.len(),
        )
    }

    /// The time the event is filed under: the article's publication time, else its ingest time.
    pub fn event_time(&self) -> OffsetDateTime {
        self.article.published_at.unwrap_or(self.ingested_at)
    }
}

/// RFC 3339 timestamps as `time::serde::rfc3339` reads and writes them, but written through a
/// buffer on the stack: `time` formats each into a new `String` (three allocations per tagged
/// event).
mod rfc3339 {
    use serde::{Deserializer, Serialize, Serializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    /// Room for the longest form `time` writes: "9999-12-31T23:59:59.999999999+23:59".
    const ROOM: usize = 48;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; ROOM];
        let unused = {
            let mut out: &mut [u8] = &mut buf;
            t.format_into(&mut out, &Rfc3339)
                .map_err(serde::ser::Error::custom)?;
            out.len()
        };
        let text = std::str::from_utf8(&buf[..ROOM - unused]).map_err(serde::ser::Error::custom)?;
        s.serialize_str(text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        time::serde::rfc3339::deserialize(d)
    }

    struct Formatted(OffsetDateTime);

    impl Serialize for Formatted {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            serialize(&self.0, s)
        }
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(
            t: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_some(&Formatted(*t)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            time::serde::rfc3339::option::deserialize(d)
        }
    }
}

fn check_event_id(
    event_id: &str,
    article_id: &str,
    sentence_index: u32,
) -> Result<(), DecodeError> {
    if RawEvent::is_id(event_id, article_id, sentence_index) {
        Ok(())
    } else {
        Err(DecodeError::Invalid(format!(
            "event_id {event_id:?} does not match article_id and sentence_index"
        )))
    }
}

fn check_schema(found: u32) -> Result<(), DecodeError> {
    if found == 0 || found > SCHEMA_VERSION {
        return Err(DecodeError::Schema { found });
    }
    Ok(())
}

/// Serialises into a buffer of `size_hint` bytes, so that a typical event is written without
/// growing it.
fn encode<T: Serialize>(value: &T, size_hint: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size_hint);
    write_json(&mut out, value);
    out
}

/// Writes `value` as JSON to `out`, a buffer that grows as needed.
fn write_json<T: Serialize>(out: impl std::io::Write, value: &T) {
    // Serialising these plain structs into memory cannot fail: no maps with non-string keys,
    // no custom errors.
    serde_json::to_writer(out, value)
        .unwrap_or_else(|e| unreachable!("event serialisation failed: {e}"));
}

/// Payloads serialised one after another into shared blocks and split off as [`bytes::Bytes`].
/// A tagged event is over a kilobyte, and a buffer of its own per event is a large allocation,
/// which makes glibc consolidate its free lists (a profile of the classifier service put
/// `malloc_consolidate` and `_int_malloc` at an eighth of its samples): a 64 KB block serves
/// some fifty events, and is freed, or written over again, once the last of them is sent.
#[derive(Debug, Default)]
pub struct Payloads {
    block: bytes::BytesMut,
}

impl Payloads {
    /// Bytes a block holds; an event larger than the room left starts a new one.
    const BLOCK: usize = 64 * 1024;
    /// Room an event is given before it is written (more is taken if it needs more).
    const ROOM: usize = 4 * 1024;

    /// `value` as JSON, in the current block.
    pub fn encode<T: Serialize>(&mut self, value: &T) -> bytes::Bytes {
        use bytes::BufMut;
        if self.block.capacity() < Self::ROOM {
            self.block.reserve(Self::BLOCK);
        }
        write_json((&mut self.block).writer(), value);
        self.block.split().freeze()
    }
}

/// When an event was made and, for a tagged event, tagged: read from its JSON without decoding
/// the rest, for decisions and measures that need only these (the sink's linger, the
/// benchmark's latencies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct EventTimes {
    #[serde(with = "time::serde::rfc3339")]
    pub ingested_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub classified_at: Option<OffsetDateTime>,
}

impl EventTimes {
    /// The times of the raw or tagged event `payload`.
    pub fn read(payload: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(payload)
    }
}

/// JSON Schemas of the two event types, as checked in under `docs/schema/`.
pub fn json_schemas() -> [(&'static str, String); 2] {
    let pretty = |schema: schemars::Schema| {
        let mut text = serde_json::to_string_pretty(&schema)
            .unwrap_or_else(|e| unreachable!("schema serialisation failed: {e}"));
        text.push('\n');
        text
    };
    [
        (
            "raw-event.schema.json",
            pretty(schemars::schema_for!(RawEvent)),
        ),
        (
            "tagged-event.schema.json",
            pretty(schemars::schema_for!(TaggedEvent)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid raw event, for tests.
    pub(super) fn raw() -> RawEvent {
        RawEvent {
            schema: SCHEMA_VERSION,
            event_id: RawEvent::make_id("ab12", 0),
            article_id: "ab12".into(),
            sentence_index: 0,
            sentence_count: 1,
            text: "Seoul protested.".into(),
            span: Span::new(0, 16),
            article: ArticleMeta::default(),
            event_date: None,
            ingested_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn raw_event_round_trips() {
        let event = raw();
        assert_eq!(RawEvent::decode(&event.encode()).expect("decodes"), event);
        let dated = RawEvent {
            event_date: Some(time::macros::date!(2024 - 06 - 20)),
            ..raw()
        };
        let json = String::from_utf8(dated.encode()).expect("utf-8");
        assert!(json.contains(r#""event_date":"2024-06-20""#), "{json}");
        assert_eq!(RawEvent::decode(json.as_bytes()).expect("decodes"), dated);
    }

    #[test]
    fn payloads_cut_from_shared_blocks_are_each_events_own_json() {
        let mut payloads = Payloads::default();
        let events: Vec<RawEvent> = (0..200)
            .map(|i| RawEvent {
                // Some events larger than the room given, one larger than a block.
                text: "x".repeat(match i {
                    7 => 5_000,
                    99 => 70_000,
                    _ => 50 * i,
                }),
                ..raw()
            })
            .collect();
        let written: Vec<bytes::Bytes> = events.iter().map(|e| payloads.encode(e)).collect();
        for (event, payload) in events.iter().zip(&written) {
            assert_eq!(payload[..], event.encode()[..]);
        }
        // Written after the earlier payloads were dropped, the blocks are reused as they are.
        drop(written);
        assert_eq!(payloads.encode(&raw())[..], raw().encode()[..]);
    }

    #[test]
    fn wrong_shapes_are_rejected_with_a_reason() {
        assert!(matches!(
            RawEvent::decode(b"{\"schema\":1}"),
            Err(DecodeError::Json(_))
        ));
        assert!(matches!(
            RawEvent::decode(b"\xff\x00"),
            Err(DecodeError::Json(_))
        ));
        let mut future = raw();
        future.schema = SCHEMA_VERSION + 1;
        assert!(matches!(
            RawEvent::decode(&future.encode()),
            Err(DecodeError::Schema { .. })
        ));
        let mut bad_span = raw();
        bad_span.span = Span::new(0, 3);
        assert!(matches!(
            RawEvent::decode(&bad_span.encode()),
            Err(DecodeError::Invalid(_))
        ));
        let mut bad_id = raw();
        bad_id.event_id = "other".into();
        assert!(matches!(
            RawEvent::decode(&bad_id.encode()),
            Err(DecodeError::Invalid(_))
        ));
    }

    #[test]
    fn tagged_events_whose_id_is_not_their_articles_are_refused() {
        let tagged = |event_id: &str| {
            let mut value = serde_json::to_value(raw()).expect("serialises");
            value["event_id"] = serde_json::json!(event_id);
            value["category"] = serde_json::json!("none");
            value["actors"] = serde_json::json!([]);
            value["events"] = serde_json::json!([]);
            value["classifier_version"] = serde_json::json!("test");
            value["classified_at"] = serde_json::json!("2024-06-21T00:00:00Z");
            serde_json::to_vec(&value).expect("serialises")
        };
        let good = tagged("ab12-0");
        assert!(TaggedEvent::decode(&good).is_ok());
        let text = std::str::from_utf8(&good).expect("utf-8");
        assert!(TaggedEvent::decode_str(text).is_ok());
        for bad in ["ab12-1", "ab12-00", "ab1-0", "ab12-0x", "ab12", "other"] {
            let bytes = tagged(bad);
            assert!(
                matches!(TaggedEvent::decode(&bytes), Err(DecodeError::Invalid(ref m)) if m.contains("does not match")),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_ignored_for_forward_compatibility() {
        let mut value = serde_json::to_value(raw()).expect("serialises");
        value["added_later"] = serde_json::json!(true);
        let bytes = serde_json::to_vec(&value).expect("serialises");
        assert!(RawEvent::decode(&bytes).is_ok());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    use super::tests::raw as valid;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn decoders_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1000)) {
            let _ = RawEvent::decode(&bytes);
            let _ = TaggedEvent::decode(&bytes);
            if let Ok(text) = std::str::from_utf8(&bytes) {
                // Decoding text answers as decoding its bytes does.
                let (from_text, from_bytes) = (TaggedEvent::decode_str(text), TaggedEvent::decode(&bytes));
                prop_assert_eq!(from_text.as_ref().ok(), from_bytes.as_ref().ok());
                prop_assert_eq!(from_text.is_err(), from_bytes.is_err());
            }
        }

        /// `is_id` answers as comparing with the id `make_id` makes, also for ids that look
        /// alike: other indexes, leading zeros, signs, other articles' prefixes.
        #[test]
        fn event_ids_are_checked_as_make_id_writes_them(
            article in "[0-9a-f]{0,4}",
            index in prop_oneof![0u32..12, any::<u32>()],
            tail in prop_oneof![
                Just(String::new()),
                "[0-9]{1,11}",
                Just("0".to_owned()),
                "0[0-9]{1,3}",
                "[+-][0-9]{1,3}",
                "[0-9a-f-]{0,6}",
            ],
            other_article in "[0-9a-f]{0,4}",
        ) {
            let made = RawEvent::make_id(&article, index);
            prop_assert!(RawEvent::is_id(&made, &article, index));
            for candidate in [format!("{article}-{tail}"), format!("{other_article}-{tail}"), format!("{article}{tail}")] {
                prop_assert_eq!(
                    RawEvent::is_id(&candidate, &article, index),
                    candidate == made,
                    "{} for {} and {}", candidate, article, index
                );
            }
        }

        #[test]
        fn truncated_events_are_refused(cut in 0usize..200) {
            let bytes = valid().encode();
            let cut = cut.min(bytes.len() - 1);
            prop_assert!(RawEvent::decode(&bytes[..cut]).is_err());
        }

        /// Timestamps read and write exactly as `time::serde::rfc3339` has them.
        #[test]
        fn timestamps_as_the_time_crate_writes_them(
            seconds in -62_000_000_000i64..253_000_000_000,
            nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000],
            offset_minutes in -1439i32..1440,
        ) {
            let offset = time::UtcOffset::from_whole_seconds(offset_minutes * 60).expect("offset");
            let t = (OffsetDateTime::from_unix_timestamp(seconds).expect("in range")
                + time::Duration::nanoseconds(i64::from(nanos)))
            .to_offset(offset);
            #[derive(Serialize, Deserialize)]
            struct Ours(#[serde(with = "rfc3339")] OffsetDateTime, #[serde(with = "rfc3339::option")] Option<OffsetDateTime>);
            #[derive(Serialize)]
            struct Theirs(#[serde(with = "time::serde::rfc3339")] OffsetDateTime, #[serde(with = "time::serde::rfc3339::option")] Option<OffsetDateTime>);
            let ours = serde_json::to_string(&Ours(t, Some(t)));
            let theirs = serde_json::to_string(&Theirs(t, Some(t)));
            prop_assert_eq!(ours.as_ref().ok(), theirs.as_ref().ok());
            prop_assert_eq!(ours.is_err(), theirs.is_err());
            if let Ok(text) = ours {
                let back: Ours = serde_json::from_str(&text).expect("reads back");
                prop_assert_eq!((back.0, back.1), (t, Some(t)));
            }
            prop_assert_eq!(serde_json::to_string(&Ours(t, None)).ok(), serde_json::to_string(&Theirs(t, None)).ok());
        }

        #[test]
        fn a_flipped_byte_never_panics(at in 0usize..200, byte in any::<u8>()) {
            let mut bytes = valid().encode();
            let at = at % bytes.len();
            bytes[at] = byte;
            if let Ok(event) = RawEvent::decode(&bytes) {
                prop_assert!(event.validate().is_ok());
            }
        }
    }
}
