//! Veilwatch: live face matching that runs on the device, against a blinded watchlist.
//!
//! The folders are the architecture (DESIGN §6); arrows point only from later to earlier parts of
//! this list, and `tests/architecture.rs` fails when one does not:
//!
//! - [`hex`], [`time`]: small helpers every part may use.
//! - [`template`]: the [`Embedding`] both the pipeline and the blind scheme share.
//! - [`pipeline`]: frame → detect → align → quality → embed ([`Engine`]).
//! - [`track`]: the IoU tracker and per-track fusion.
//! - [`blind`]: the blinded watchlist (LSH, PRF, shares, records, file format, enrolment, matching).
//! - [`sealed`] (feature `sealed-kiosk`, and `sealed` for the gallery and the authority's answer):
//!   sealed custody's BFV core (DESIGN §3.4): the list stays at the authority, the face leaves
//!   encrypted under the kiosk's key.
//! - [`governance`]: the signed deployment profile and the hash-chained audit log.
//! - [`calibration`]: the operating-point model of DESIGN §7, the calibration this build ships,
//!   and its charts (wasm-safe: the kiosk shows them).
//! - [`eval`]: accuracy metrics, the evaluation protocol and its HTML report.
//! - [`kiosk`]: the kiosk session (pipeline + tracker + matcher + review + audit + profile rules).
//! - [`authority`] (feature `server`): the authority service's routes and state (DESIGN §5).
//! - `wasm` and the `veilwatch` binary: edges that convert types and hold no rule.

#[cfg(feature = "server")]
pub mod authority;
pub mod blind;
pub mod calibration;
pub mod eval;
pub mod governance;
pub mod hex;
#[cfg(feature = "pipeline")]
pub mod kiosk;
#[cfg(feature = "pipeline")]
pub mod pipeline;
#[cfg(feature = "sealed-kiosk")]
pub mod sealed;
pub mod template;
pub mod time;
#[cfg(feature = "pipeline")]
pub mod track;
#[cfg(all(target_arch = "wasm32", feature = "pipeline"))]
mod wasm;

pub use hex::{from_hex, hex};
#[cfg(feature = "pipeline")]
pub use pipeline::{AnalysedFace, Engine, Error, Face, Frame, ModelKind, Quality, Result};
pub use template::{Embedding, EMBEDDING_DIM};
