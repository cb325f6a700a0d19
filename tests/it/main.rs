//! End-to-end tests: real nats-server processes, the real stages, real SQLite and PostgreSQL
//! stores.

mod dead_letters;
mod faults;
mod ingest;
mod local_server;
mod operations;
mod pipeline;
mod postgres_store;
mod restarts;
mod schema;
mod security;
mod worker;
