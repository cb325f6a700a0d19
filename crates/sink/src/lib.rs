//! newswire's sink: stores tagged events idempotently (the event id is the key) and answers
//! queries by actor, country, category, article and time.

#[cfg(test)]
mod conformance;
pub mod postgres;
pub mod service;
pub mod sqlite;
pub mod store;

pub use postgres::PostgresStore;
pub use service::{SinkConfig, SinkError, run};
pub use sqlite::{SqliteStore, Synchronous};
pub use store::{Encoded, Filter, Store, StoreError, StoreReport, open, open_existing};
