//! Contracts and plumbing shared by newswire's stages: the event types and their schema,
//! subject and stream names, NATS connection and stream set-up, the consume loop with its
//! single place for settling messages, telemetry and shutdown signals. Stage logic lives in
//! the stage crates.

pub mod event;
pub mod hex;
pub mod local_server;
pub mod nats;
pub mod ops;
pub mod shutdown;
pub mod subjects;
pub mod telemetry;
pub mod trace;
pub mod worker;

pub use event::{
    Actor, ArticleMeta, CATEGORY_NONE, CodedEvent, CompactString, DecodeError, Modality, Payloads,
    RawEvent, SCHEMA_VERSION, Span, TaggedEvent,
};
pub use subjects::Subjects;
