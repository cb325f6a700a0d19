//! Trace context carried in NATS headers from the producer to the sink, in the W3C Trace
//! Context format (`traceparent: 00-<trace id>-<parent span id>-<flags>`), so a log pipeline
//! or a tracing backend can follow one article through every stage.
//!
//! The flags say whether the sending stage recorded its span: `01` (sampled) from a stage that
//! exports spans, `00` from one that only derives the ids. An unrecorded span marked sampled
//! would also cost the broker: nats-server (2.11 and later) copies every header of a message
//! whose `traceparent` is sampled into a map, to look for a trace destination, which was 3%
//! of its CPU per hop in the benchmark (docs/benchmarks.md, change 50), and an account with a
//! message-trace destination would trace every such message. A stage that exports records
//! its span whatever flag it received: the stages before it may simply have no exporter.
//!
//! The trace id is the article id (both are 128 bits of hex), so every sentence of an
//! article shares one trace and the trace is found from the article. Span ids are derived from
//! the event id and the stage, so a redelivered message carries the same ids as the first
//! delivery.

use sha2::{Digest, Sha256};

/// Whether this build exports spans (the `otel` feature): without it, a stage that sends
/// nothing onward needs no span and no derived context.
pub const EXPORTS: bool = cfg!(feature = "otel");

/// The header that carries the context, as W3C Trace Context names it.
pub const HEADER: &str = "traceparent";

/// A parsed `traceparent`: two fixed-width ids held inline, so that reading, deriving and
/// passing on a context per event allocates nothing but the header it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// 32 lower-case hex digits.
    pub trace_id: HexId<32>,
    /// 16 lower-case hex digits: the span that sent the message.
    pub span_id: HexId<16>,
    /// W3C's sampled flag: the span that sent the message was recorded.
    pub sampled: bool,
}

/// `N` lower-case hex digits, not all zero (W3C Trace Context's ids).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HexId<const N: usize>([u8; N]);

impl<const N: usize> HexId<N> {
    /// `text` if it is `N` lower-case hex digits, not all zero.
    pub fn parse(text: &str) -> Option<Self> {
        let digits: [u8; N] = text.as_bytes().try_into().ok()?;
        let valid = digits
            .iter()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            && digits.iter().any(|&b| b != b'0');
        valid.then_some(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

impl<const N: usize> std::fmt::Debug for HexId<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> std::fmt::Display for HexId<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> PartialEq<str> for HexId<N> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl<const N: usize> PartialEq<&str> for HexId<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl<const N: usize> PartialEq<String> for HexId<N> {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl TraceParent {
    /// The context of `stage`'s span for one event, in the article's trace, derived from the
    /// ids alone: nothing records the span, so it is not sampled.
    pub fn for_event(article_id: &str, event_id: &str, stage: &str) -> Option<Self> {
        let mut trace_id: [u8; 32] = article_id.as_bytes().try_into().ok()?;
        trace_id.make_ascii_lowercase();
        let trace_id = HexId::parse(std::str::from_utf8(&trace_id).ok()?)?;
        let digest = Sha256::new()
            .chain_update(stage.as_bytes())
            .chain_update(b"/")
            .chain_update(event_id.as_bytes())
            .finalize();
        let mut span_id = [0; 16];
        crate::hex::write_lower_hex(&digest[..8], &mut span_id);
        // A span id of all zeros (one digest in 2^64) would be invalid: it is then the parent's.
        let span_id = HexId::parse(std::str::from_utf8(&span_id).ok()?)?;
        Some(Self {
            trace_id,
            span_id,
            sampled: false,
        })
    }

    /// Reads a `traceparent` value; `None` for anything malformed (the message is still
    /// processed, only untraced).
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let (version, trace_id, span_id, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if version != "00"
            || parts.next().is_some()
            || flags.len() != 2
            || !flags.bytes().all(lower_hex)
        {
            return None;
        }
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(Self {
            trace_id: HexId::parse(trace_id)?,
            span_id: HexId::parse(span_id)?,
            sampled: flags & 1 == 1,
        })
    }

    /// The header value.
    pub fn header_value(&self) -> String {
        // Put together, not formatted: one per event in every stage that sends events on.
        let mut value = String::with_capacity(55);
        value.push_str("00-");
        value.push_str(self.trace_id.as_str());
        value.push('-');
        value.push_str(self.span_id.as_str());
        value.push_str(if self.sampled { "-01" } else { "-00" });
        value
    }

    /// The next hop's context: same trace, `stage`'s span for `event_id`.
    pub fn child(&self, event_id: &str, stage: &str) -> Self {
        Self::for_event(self.trace_id.as_str(), event_id, stage).unwrap_or(*self)
    }
}

/// A span for one event at `stage`, continuing `parent` (the context the event arrived with),
/// and the context to send onward. Built with the `otel` feature and with an exporter
/// configured, the span is exported and the onward context is its own; otherwise no span is
/// recorded and the onward context is derived from the ids ([`TraceParent::child`]).
pub fn event_span(
    stage: &'static str,
    article_id: &str,
    event_id: &str,
    parent: Option<&TraceParent>,
) -> (tracing::Span, Option<TraceParent>) {
    let derive = || match parent {
        Some(parent) => Some(parent.child(event_id, stage)),
        None => TraceParent::for_event(article_id, event_id, stage),
    };
    #[cfg(feature = "otel")]
    {
        let span =
            tracing::info_span!("event", stage, event_id = %event_id, article_id = %article_id);
        // Without a parent, the derived context makes the article id the trace id.
        let derived = if parent.is_none() { derive() } else { None };
        if let Some(context) = otel::continue_from(&span, parent.or(derived.as_ref())) {
            return (span, Some(context));
        }
        (span, derived.or_else(derive))
    }
    #[cfg(not(feature = "otel"))]
    {
        (tracing::Span::none(), derive())
    }
}

#[cfg(feature = "otel")]
mod otel {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    use super::TraceParent;

    /// Makes `span` a child of `parent` and returns the span's own context, `None` when no
    /// exporter records it.
    pub(super) fn continue_from(
        span: &tracing::Span,
        parent: Option<&TraceParent>,
    ) -> Option<TraceParent> {
        if let Some(parent) = parent
            && let (Ok(trace_id), Ok(span_id)) = (
                TraceId::from_hex(parent.trace_id.as_str()),
                SpanId::from_hex(parent.span_id.as_str()),
            )
        {
            let remote = SpanContext::new(
                trace_id,
                span_id,
                TraceFlags::SAMPLED,
                true,
                TraceState::default(),
            );
            let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
        }
        let context = span.context();
        let own = context.span().span_context().clone();
        if !own.is_valid() {
            return None;
        }
        Some(TraceParent {
            trace_id: super::HexId::parse(&own.trace_id().to_string())?,
            span_id: super::HexId::parse(&own.span_id().to_string())?,
            sampled: own.is_sampled(),
        })
    }
}

/// The trace context a consumed message carries, if any.
pub fn from_headers(headers: Option<&async_nats::HeaderMap>) -> Option<TraceParent> {
    headers?
        .get(HEADER)
        .and_then(|v| TraceParent::parse(v.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_round_trip_and_follow_the_article() {
        let article = "0af7651916cd43dd8448eb211c80319c";
        let producer = TraceParent::for_event(article, &format!("{article}-3"), "producer")
            .expect("valid article id");
        assert_eq!(producer.trace_id, article);
        // The first 8 bytes of SHA-256("producer/<event id>"), in lower-case hex.
        assert_eq!(producer.span_id, "de9d09fcda9e0266");
        let header = producer.header_value();
        // Derived, not recorded: unsampled.
        assert_eq!(header, format!("00-{article}-de9d09fcda9e0266-00"));
        assert_eq!(TraceParent::parse(&header), Some(producer));
        let recorded = TraceParent {
            sampled: true,
            ..producer
        };
        assert_eq!(
            recorded.header_value(),
            format!("00-{article}-de9d09fcda9e0266-01")
        );
        assert_eq!(TraceParent::parse(&recorded.header_value()), Some(recorded));
        let classifier = producer.child(&format!("{article}-3"), "classifier");
        assert_eq!(classifier.trace_id, article);
        assert_ne!(classifier.span_id, producer.span_id);
        // Redelivery gives the same ids.
        assert_eq!(
            classifier,
            producer.child(&format!("{article}-3"), "classifier")
        );
    }

    #[test]
    fn malformed_contexts_are_ignored() {
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-zz",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-+1",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0A",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
        assert_eq!(TraceParent::for_event("ab12", "ab12-0", "producer"), None);
    }
}
