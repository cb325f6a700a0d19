//! `POST /articles`: articles over HTTP, through the same path as every other input.
//!
//! The body is one article in any input format, chosen by `Content-Type` (`text/plain`,
//! `text/html`, `text/markdown`, `application/json` for one JSON article or JSON lines of
//! many); metadata for plain bodies comes from query parameters (`source`, `title`, `url`,
//! `published_at`, `language`). Answers: 202 with the article ids and event counts once the
//! stream has stored every event; 400 for an input we refuse, 401 without the bearer token,
//! 413 over the size limit, 415 for other media types, 503 when NATS cannot take it.

use std::sync::Arc;

use axum::body::Bytes;
use std::collections::BTreeMap;

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use newswire_shared::ArticleMeta;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::article::{ArticleError, InputFormat, parse_date};
use crate::ingest::Ingestor;
use crate::publish::{ProducerError, Published};

/// What the HTTP endpoint needs.
#[derive(Debug)]
pub struct HttpState {
    ingestor: Ingestor,
    /// Digest of the token required as `Authorization: Bearer <token>`, when one is set:
    /// computed once, compared with each request's.
    token_digest: Option<TokenDigest>,
    /// One permit per request handled at once.
    permits: Arc<tokio::sync::Semaphore>,
}

type TokenDigest = sha2::digest::Output<Sha256>;

impl HttpState {
    /// `token` as [`HttpConfig::new`](crate::HttpConfig::new) keeps it (trimmed, never
    /// empty). At most `concurrency` requests (at least one) are handled at once.
    pub fn new(ingestor: Ingestor, token: Option<&str>, concurrency: usize) -> Self {
        Self {
            ingestor,
            token_digest: token.map(|t| Sha256::digest(t.as_bytes())),
            permits: Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))),
        }
    }
}

/// How long a request may wait for its article to be published. The publisher retries for
/// longer (about 80 s while NATS is away); a client or proxy gives up well before that, and
/// would resend while the first try still runs. After this the client gets its 503 and
/// `Retry-After`; what was published meanwhile is dropped as a duplicate when it resends.
pub const PUBLISH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);

/// The routes: `POST /articles` and `GET /healthz`.
pub fn router(state: Arc<HttpState>) -> Router {
    // The body limit sits a little above the article limit so that the handler, not the
    // framework, answers with the article limit in its message.
    let body_limit = state.ingestor.limits().max_article_bytes.saturating_add(1);
    // The token and the room are checked before the body is read: a request without them
    // costs no buffer.
    let articles = post(post_article).layer(axum::middleware::from_fn_with_state(
        Arc::clone(&state),
        admit,
    ));
    Router::new()
        .route("/articles", articles)
        .route("/healthz", get(|| async { "ok\n" }))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Before a request's body is read: refuses it without the bearer token, when one is set, and
/// when as many requests as allowed are being handled (503 with `Retry-After`); holds one of
/// the permits while it is handled.
async fn admit(
    State(state): State<Arc<HttpState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(token) = &state.token_digest
        && !authorised(request.headers(), token)
    {
        return problem(
            StatusCode::UNAUTHORIZED,
            "a valid `Authorization: Bearer <token>` header is required",
        );
    }
    let Ok(_permit) = Arc::clone(&state.permits).try_acquire_owned() else {
        warn!(
            stage = "producer",
            input = "http",
            outcome = "refused",
            "too many requests at once; answered 503"
        );
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many articles are being published at once: send it again shortly",
        );
    };
    next.run(request).await
}

#[derive(Debug, Serialize)]
struct Accepted {
    articles: Vec<ArticleReceipt>,
    events: usize,
    duplicates: usize,
}

#[derive(Debug, Serialize)]
struct ArticleReceipt {
    article_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    events: usize,
    duplicates: usize,
}

#[derive(Debug, Serialize)]
struct Problem {
    error: String,
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    let mut response = (
        status,
        Json(Problem {
            error: message.into(),
        }),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}

async fn post_article(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let format = match headers.get(header::CONTENT_TYPE) {
        None => InputFormat::Auto,
        Some(value) => match value.to_str().ok().and_then(InputFormat::from_content_type) {
            Some(format) => format,
            None => {
                return problem(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!(
                        "Content-Type {value:?} is not an article: use text/plain, text/html, text/markdown or application/json"
                    ),
                );
            }
        },
    };
    let max = state.ingestor.limits().max_article_bytes;
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the article is larger than the limit of {max} bytes"),
            );
        }
        Err(rejection) => return problem(rejection.status(), rejection.body_text()),
    };
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => return problem(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    let defaults = match query_meta(query) {
        Ok(meta) => meta,
        Err(message) => return problem(StatusCode::BAD_REQUEST, message),
    };
    let ingested = tokio::time::timeout(
        PUBLISH_DEADLINE,
        state.ingestor.ingest(&body, format, &defaults, "http"),
    )
    .await;
    let Ok(ingested) = ingested else {
        warn!(
            stage = "producer",
            input = "http",
            outcome = "failed",
            deadline_secs = PUBLISH_DEADLINE.as_secs(),
            "article not published within the deadline"
        );
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the article could not be published within {} s: NATS is not taking it now",
                PUBLISH_DEADLINE.as_secs()
            ),
        );
    };
    match ingested {
        Ok(receipts) => accepted(receipts),
        Err(ProducerError::Input(ArticleError::TooLarge { size, max })) => problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the article is {size} bytes, more than the limit of {max} bytes"),
        ),
        Err(ProducerError::Input(e)) => {
            info!(stage = "producer", input = "http", outcome = "rejected", reason = %e, "article refused");
            problem(StatusCode::BAD_REQUEST, e.to_string())
        }
        Err(e) => {
            warn!(stage = "producer", input = "http", outcome = "failed", error = %e, "article not published");
            problem(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
    }
}

fn accepted(receipts: Vec<Published>) -> Response {
    let articles: Vec<ArticleReceipt> = receipts
        .into_iter()
        .map(|r| {
            info!(stage = "producer", input = "http", article_id = %r.article_id, events = r.published + r.duplicates, duplicates = r.duplicates, outcome = "published", "article published");
            ArticleReceipt {
                article_id: r.article_id,
                title: r.title,
                events: r.published + r.duplicates,
                duplicates: r.duplicates,
            }
        })
        .collect();
    let body = Accepted {
        events: articles.iter().map(|a| a.events).sum(),
        duplicates: articles.iter().map(|a| a.duplicates).sum(),
        articles,
    };
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// Compares digests rather than the tokens themselves, so the comparison's time says nothing
/// about how much of a guess was right.
fn authorised(headers: &HeaderMap, token: &TokenDigest) -> bool {
    // The scheme's name is case-insensitive (RFC 9110, 11.1).
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, given)| given)
    else {
        return false;
    };
    Sha256::digest(given.trim().as_bytes()) == *token
}

/// Article metadata from query parameters.
fn query_meta(query: BTreeMap<String, String>) -> Result<ArticleMeta, String> {
    let mut meta = ArticleMeta::default();
    for (key, value) in query {
        match key.as_str() {
            "source" => meta.source = Some(value),
            "title" => meta.title = Some(value),
            "url" => meta.url = Some(value),
            "language" | "lang" => meta.language = crate::article::normalise_language(&value),
            "published_at" => {
                meta.published_at = Some(parse_date(&value).ok_or_else(|| {
                    format!("published_at {value:?} is neither RFC 3339 nor YYYY-MM-DD")
                })?);
            }
            other => return Err(format!("unknown query parameter {other:?}")),
        }
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn query_parameters_become_metadata() {
        let meta = query_meta(query(&[
            ("source", "yonhap"),
            ("title", "Putin warns Seoul"),
            ("published_at", "2024-06-21"),
            ("lang", "en-US"),
        ]))
        .expect("valid");
        assert_eq!(meta.source.as_deref(), Some("yonhap"));
        assert_eq!(meta.title.as_deref(), Some("Putin warns Seoul"));
        assert_eq!(meta.language.as_deref(), Some("en"));
        assert!(meta.published_at.is_some());
        assert!(query_meta(query(&[("sauce", "x")])).is_err());
        assert!(query_meta(query(&[("published_at", "soon")])).is_err());
    }

    #[test]
    fn bearer_tokens_must_match_exactly() {
        let authorised = |headers: &HeaderMap, token: &str| {
            authorised(headers, &Sha256::digest(token.as_bytes()))
        };
        let mut headers = HeaderMap::new();
        assert!(!authorised(&headers, "s3cret"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert!(authorised(&headers, "s3cret"));
        assert!(!authorised(&headers, "s3cre"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic s3cret"),
        );
        assert!(!authorised(&headers, "s3cret"));
    }
}
