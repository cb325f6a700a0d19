//! Exit codes (sysexits): 64 invalid usage or configuration, 65 refused input data,
//! 69 a service (NATS, the store) unavailable, 1 anything else.

pub const EX_USAGE: u8 = 64;
pub const EX_DATAERR: u8 = 65;
pub const EX_UNAVAILABLE: u8 = 69;

/// Invalid flags, environment or configuration values.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Input that was refused: nothing of it was published.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DataError(pub String);

/// A service the command needs is unreachable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<UsageError>().is_some() {
        EX_USAGE
    } else if error.downcast_ref::<DataError>().is_some() {
        EX_DATAERR
    } else if error.downcast_ref::<Unavailable>().is_some() {
        EX_UNAVAILABLE
    } else {
        1
    }
}
