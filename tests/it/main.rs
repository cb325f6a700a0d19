//! End-to-end tests: real nats-server processes, the real stages, a real SQLite store.

mod dead_letters;
mod faults;
mod ingest;
mod pipeline;
mod restarts;
mod schema;
