//! newswire's classifier: codes each sentence's actors (CAMEO country + role) and events
//! (CAMEO code, QuadClass, Goldstein, PLOVER, modality, source and target) from dictionaries
//! kept as data, and republishes it on `<prefix>.tagged.<category>.<actor>`.

pub mod classify;
pub mod dict;
pub mod eval;
pub mod inflect;
pub mod petrarch;
mod phrases;
pub mod service;
mod words;

pub use classify::{Classifier, Coding};
pub use dict::{DictError, DictErrors, Dictionary, Sources};
pub use service::{ClassifierConfig, ClassifierError, load_classifier, run};
