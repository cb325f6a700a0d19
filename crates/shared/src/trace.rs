//! Trace context carried in NATS headers from the producer to the sink, in the W3C Trace
//! Context format (`traceparent: 00-<trace id>-<parent span id>-01`), so a log pipeline or a
//! tracing backend can follow one article through every stage.
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

/// A parsed `traceparent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    /// 32 lower-case hex digits.
    pub trace_id: String,
    /// 16 lower-case hex digits: the span that sent the message.
    pub span_id: String,
}

impl TraceParent {
    /// The context of `stage`'s span for one event, in the article's trace.
    pub fn for_event(article_id: &str, event_id: &str, stage: &str) -> Option<Self> {
        let trace_id = article_id.to_ascii_lowercase();
        if trace_id.len() != 32
            || !trace_id.bytes().all(|b| b.is_ascii_hexdigit())
            || trace_id.bytes().all(|b| b == b'0')
        {
            return None;
        }
        let digest = Sha256::new()
            .chain_update(stage.as_bytes())
            .chain_update(b"/")
            .chain_update(event_id.as_bytes())
            .finalize();
        let span_id = crate::hex::lower_hex(&digest[..8]);
        Some(Self { trace_id, span_id })
    }

    /// Reads a `traceparent` value; `None` for anything malformed (the message is still
    /// processed, only untraced).
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let (version, trace_id, span_id, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let hex = |s: &str, len: usize| {
            s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                && !s.bytes().all(|b| b == b'0')
        };
        if version != "00" || !hex(trace_id, 32) || !hex(span_id, 16) || flags.len() != 2 {
            return None;
        }
        Some(Self {
            trace_id: trace_id.to_owned(),
            span_id: span_id.to_owned(),
        })
    }

    /// The header value.
    pub fn header_value(&self) -> String {
        format!("00-{}-{}-01", self.trace_id, self.span_id)
    }

    /// The next hop's context: same trace, `stage`'s span for `event_id`.
    pub fn child(&self, event_id: &str, stage: &str) -> Self {
        Self::for_event(&self.trace_id, event_id, stage).unwrap_or_else(|| self.clone())
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
                TraceId::from_hex(&parent.trace_id),
                SpanId::from_hex(&parent.span_id),
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
        own.is_valid().then(|| TraceParent {
            trace_id: own.trace_id().to_string(),
            span_id: own.span_id().to_string(),
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
        assert_eq!(TraceParent::parse(&header), Some(producer.clone()));
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
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
        assert_eq!(TraceParent::for_event("ab12", "ab12-0", "producer"), None);
    }
}
