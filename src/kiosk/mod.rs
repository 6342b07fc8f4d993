//! The kiosk: the face pipeline, the tracker, the blind matcher, human review, the audit log and
//! the deployment's rules, on a stream of camera frames. Every rule a kiosk follows lives here and
//! runs under `cargo test`; the wasm facade only converts types.
//!
//! - [`session`]: [`KioskSession`], one frame at a time.
//! - [`authority_round_trips`]: under authority custody, the round trips to the authority in
//!   flight (blind matches, reviewer material, a new deployment's key check) and the pause after
//!   an answer that failed verification; the caller carries each request out.
//! - [`sealed_faces`]: under sealed custody, the face at the authority (its round trips, one
//!   after another) and the faces waiting their turn.
//! - [`detection`]: which detector input each frame runs (reduced, full only when needed).
//! - [`deployment`]: loading a watchlist with its issuer, profile and custody, in a fixed order;
//!   [`Custody`]: where its PRF is evaluated (in process, or only through the authority), or that
//!   the list stays sealed at the authority.
//! - [`options`]: the options of `Kiosk.create`.
//! - [`minute`]: the per-minute counts and the query-rate cap.
//! - [`clock`]: session time, which never goes backwards.
//! - [`review`]: alerts pending human review, and the probe crop that wipes itself.
//! - [`status`]: what the status panel and the public notice show.
//! - [`demo`]: "Enrol me" for public demonstrations.
//! - [`error`]: [`KioskError`] and its stable [`ErrorCode`]s.

pub mod authority_round_trips;
pub mod clock;
pub mod demo;
pub mod deployment;
pub mod detection;
pub mod error;
pub mod minute;
pub mod options;
pub mod review;
pub mod sealed_faces;
pub mod session;
pub mod status;

pub use authority_round_trips::{AuthorityQuery, DisclosureRequest, DisclosureResult};
pub use deployment::{Custody, CustodyOptions, Deployment, DeploymentOptions};
pub use detection::{Detection, DetectionPolicy, DetectionSchedule, DetectionStage, Pass};
pub use error::{ErrorCode, KioskError};
pub use options::KioskOptions;
pub use review::{AlertView, Decision, ProbeCrop};
pub use session::{Counters, FaceView, FrameResult, KioskSession, QueryResult};
pub use status::KioskStatus;
