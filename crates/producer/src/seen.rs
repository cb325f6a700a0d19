//! What producers have already published (inbox files, feed items, feed validators), kept in
//! a JetStream key-value bucket so that restarts and replicas agree.

use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::publish::ProducerError;

/// How long a record is kept: an item older than this that reappears is published again (its
/// events keep their ids, so the sink still stores them once).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

/// The key-value bucket of published inputs.
#[derive(Debug, Clone)]
pub struct Seen {
    store: kv::Store,
}

impl Seen {
    /// Opens the bucket, creating it when missing. The bucket's stream is created with the
    /// key-value conventions directly (`KV_<bucket>`, `$KV.<bucket>.>`, rollups, one value per
    /// key) rather than through the client's `create_key_value`, whose account query servers
    /// before 2.10 do not answer in the form it expects. Idempotent, so replicas may race.
    pub async fn open(
        js: &jetstream::Context,
        bucket: &str,
        replicas: usize,
        retention: Duration,
    ) -> Result<Self, ProducerError> {
        let error = |e: &dyn std::fmt::Display| ProducerError::Seen {
            reason: format!("cannot open key-value bucket {bucket}: {e}"),
        };
        let config = stream::Config {
            name: format!("KV_{bucket}"),
            description: Some("newswire: inputs the producers have published".to_owned()),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            max_age: retention,
            storage: stream::StorageType::File,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: stream::DiscardPolicy::New,
            num_replicas: replicas.max(1),
            duplicate_window: retention.min(Duration::from_secs(120)),
            ..Default::default()
        };
        js.get_or_create_stream(config)
            .await
            .map_err(|e| error(&e))?;
        let store = js.get_key_value(bucket).await.map_err(|e| error(&e))?;
        Ok(Self { store })
    }

    /// The record under `key`, if any.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, ProducerError> {
        self.store.get(key).await.map_err(|e| ProducerError::Seen {
            reason: format!("cannot read {key}: {e}"),
        })
    }

    pub async fn contains(&self, key: &str) -> Result<bool, ProducerError> {
        Ok(self.get(key).await?.is_some())
    }

    /// Records `key` with `value` (a small JSON note of what was done).
    pub async fn put(&self, key: &str, value: impl Into<Bytes>) -> Result<(), ProducerError> {
        self.store
            .put(key, value.into())
            .await
            .map(|_| ())
            .map_err(|e| ProducerError::Seen {
                reason: format!("cannot record {key}: {e}"),
            })
    }
}

/// A key-safe digest of anything (keys may hold only letters, digits and `-_=./`): 128 bits of
/// SHA-256 as hex.
pub fn digest(bytes: &[u8]) -> String {
    newswire_shared::hex::lower_hex(&Sha256::digest(bytes)[..16])
}
