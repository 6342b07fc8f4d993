//! What can go wrong at a kiosk, in words for the operator, each with a stable [`ErrorCode`] that
//! a page can act on without reading English (the wasm facade puts it on the JS `Error` as `code`).

use serde::Serialize;

use crate::blind::BlindError;
use crate::governance::audit::AuditError;
use crate::governance::profile::ProfileError;
use crate::pipeline::Error as PipelineError;
use crate::sealed::descriptor::DescriptorError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KioskError {
    /// A model, a frame or an image was unusable.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The watchlist was refused, or matching against it failed.
    #[error(transparent)]
    Watchlist(#[from] BlindError),
    /// The deployment profile was refused.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A sealed deployment's descriptor (what the kiosk is given instead of a watchlist) was refused.
    #[error(transparent)]
    SealedDeployment(#[from] DescriptorError),
    /// A caller passed options the kiosk cannot use (a page's programming error).
    #[error("{0}")]
    Options(String),
    #[error("the {what} must be 64 hex digits")]
    KeyFormat { what: &'static str },
    #[error("the issuer key is not a valid Ed25519 public key")]
    IssuerKey,
    #[error("there is no pending alert {0} (it was already reviewed, or never existed)")]
    UnknownAlert(u32),
    #[error(
        "there is no pending authority query {0} (it was already answered, timed out, or its face \
         left the camera's view)"
    )]
    UnknownQuery(u32),
    /// `completeDisclosure`/`failDisclosure` for an alert whose material is not being fetched
    /// (already answered, reviewed, or never asked for).
    #[error("alert {0} is not waiting for reviewer material (it was already answered or reviewed)")]
    UnknownDisclosure(u32),
    /// An authority call without a kiosk key (the operator has not created one).
    #[error("this kiosk has no key: create one in the operator panel and have the issuer register it")]
    NoKioskKey,
    /// `loadWatchlist` while the authority's key check of an earlier load is still open, or
    /// `completeKeyCheck`/`failKeyCheck` when none is.
    #[error("{0}")]
    KeyCheck(&'static str),
    #[error("the decision must be confirm, reject or unsure")]
    BadDecision,
    #[error("a review needs the reviewer's name")]
    NoReviewer,
    #[error("no face in view: look at the camera and try again")]
    NoFaceInView,
    #[error("the face is too small, turned away or blurred: come closer, face the camera and try again")]
    PoorFace,
    #[error("give a name of 1 to 80 characters")]
    BadLabel,
    /// The audit log stored on this device is broken or belongs to another kiosk key.
    #[error("the audit log stored on this device cannot be continued: {0}")]
    Audit(#[from] AuditError),
    /// A watchlist was loaded without its deployment profile: a deployment runs only under one.
    #[error("a deployment needs its signed deployment profile (.vwp): load the watchlist together with the profile the issuer signed for it")]
    ProfileRequired,
    /// "Enrol me" while a deployment runs: demo enrolment would replace it with a list that has
    /// no profile.
    #[error("this kiosk runs the deployment of {operator} at {location}; enrolling volunteers is only possible in demo mode, with no deployment loaded")]
    DemoUnderDeployment { operator: String, location: String },
    /// A fault in Veilwatch itself, not in what it was given.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Stable codes for [`KioskError`]s, as JS sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    ModelMismatch,
    ModelInvalid,
    InferenceFailed,
    FrameInvalid,
    ImageInvalid,
    WatchlistInvalid,
    WatchlistForeign,
    WatchlistTampered,
    WatchlistNotYetValid,
    WatchlistExpired,
    WatchlistWrongKey,
    WatchlistWrongCustody,
    AuthorityUnavailable,
    AuthorityBadAnswer,
    AuthorityAnswerUnverified,
    ProfileInvalid,
    ProfileForeign,
    ProfileTampered,
    ProfileNotYetValid,
    ProfileExpired,
    ProfileWatchlistMismatch,
    ProfileBelowFloor,
    OverseerMissing,
    OverseerKeyMissing,
    ProfileRequired,
    ProfileCustodyMismatch,
    ProfileAuthorityKey,
    AuthorityInsecure,
    KioskNotAllowed,
    DemoUnderDeployment,
    OptionsInvalid,
    KeyInvalid,
    AlertUnknown,
    QueryUnknown,
    DisclosureUnknown,
    KeyCheckPending,
    ReviewInvalid,
    NoFace,
    FaceQuality,
    LabelInvalid,
    AuditLogBroken,
    AuditLogForeign,
    Internal,
}

impl ErrorCode {
    /// The code as JS sees it, e.g. `WATCHLIST_EXPIRED`.
    pub fn as_str(self) -> &'static str {
        // What serde writes for each variant; a test checks the two agree.
        match self {
            ErrorCode::ModelMismatch => "MODEL_MISMATCH",
            ErrorCode::ModelInvalid => "MODEL_INVALID",
            ErrorCode::InferenceFailed => "INFERENCE_FAILED",
            ErrorCode::FrameInvalid => "FRAME_INVALID",
            ErrorCode::ImageInvalid => "IMAGE_INVALID",
            ErrorCode::WatchlistInvalid => "WATCHLIST_INVALID",
            ErrorCode::WatchlistForeign => "WATCHLIST_FOREIGN",
            ErrorCode::WatchlistTampered => "WATCHLIST_TAMPERED",
            ErrorCode::WatchlistNotYetValid => "WATCHLIST_NOT_YET_VALID",
            ErrorCode::WatchlistExpired => "WATCHLIST_EXPIRED",
            ErrorCode::WatchlistWrongKey => "WATCHLIST_WRONG_KEY",
            ErrorCode::WatchlistWrongCustody => "WATCHLIST_WRONG_CUSTODY",
            ErrorCode::AuthorityUnavailable => "AUTHORITY_UNAVAILABLE",
            ErrorCode::AuthorityBadAnswer => "AUTHORITY_BAD_ANSWER",
            ErrorCode::AuthorityAnswerUnverified => "AUTHORITY_ANSWER_UNVERIFIED",
            ErrorCode::ProfileInvalid => "PROFILE_INVALID",
            ErrorCode::ProfileForeign => "PROFILE_FOREIGN",
            ErrorCode::ProfileTampered => "PROFILE_TAMPERED",
            ErrorCode::ProfileNotYetValid => "PROFILE_NOT_YET_VALID",
            ErrorCode::ProfileExpired => "PROFILE_EXPIRED",
            ErrorCode::ProfileWatchlistMismatch => "PROFILE_WATCHLIST_MISMATCH",
            ErrorCode::ProfileBelowFloor => "PROFILE_BELOW_FLOOR",
            ErrorCode::OverseerMissing => "OVERSEER_MISSING",
            ErrorCode::OverseerKeyMissing => "OVERSEER_KEY_MISSING",
            ErrorCode::ProfileRequired => "PROFILE_REQUIRED",
            ErrorCode::ProfileCustodyMismatch => "PROFILE_CUSTODY_MISMATCH",
            ErrorCode::ProfileAuthorityKey => "PROFILE_AUTHORITY_KEY",
            ErrorCode::AuthorityInsecure => "AUTHORITY_INSECURE",
            ErrorCode::KioskNotAllowed => "KIOSK_NOT_ALLOWED",
            ErrorCode::DemoUnderDeployment => "DEMO_UNDER_DEPLOYMENT",
            ErrorCode::OptionsInvalid => "OPTIONS_INVALID",
            ErrorCode::KeyInvalid => "KEY_INVALID",
            ErrorCode::AlertUnknown => "ALERT_UNKNOWN",
            ErrorCode::QueryUnknown => "QUERY_UNKNOWN",
            ErrorCode::DisclosureUnknown => "DISCLOSURE_UNKNOWN",
            ErrorCode::KeyCheckPending => "KEY_CHECK_PENDING",
            ErrorCode::ReviewInvalid => "REVIEW_INVALID",
            ErrorCode::NoFace => "NO_FACE",
            ErrorCode::FaceQuality => "FACE_QUALITY",
            ErrorCode::LabelInvalid => "LABEL_INVALID",
            ErrorCode::AuditLogBroken => "AUDIT_LOG_BROKEN",
            ErrorCode::AuditLogForeign => "AUDIT_LOG_FOREIGN",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// Whether this error means the deployment's window is closed (matching stops, detection
    /// goes on) rather than something an operator can fix by reloading.
    pub fn is_window_closed(self) -> bool {
        matches!(
            self,
            ErrorCode::WatchlistExpired
                | ErrorCode::WatchlistNotYetValid
                | ErrorCode::ProfileExpired
                | ErrorCode::ProfileNotYetValid
        )
    }
}

impl KioskError {
    pub fn code(&self) -> ErrorCode {
        use ErrorCode as C;
        match self {
            KioskError::Pipeline(e) => match e {
                PipelineError::ModelHashMismatch { .. } => C::ModelMismatch,
                PipelineError::ModelInvalid { .. } => C::ModelInvalid,
                PipelineError::Inference { .. } | PipelineError::DegenerateLandmarks => C::InferenceFailed,
                PipelineError::FrameSize { .. }
                | PipelineError::FrameBufferLength { .. }
                | PipelineError::FrameBufferNotPrepared { .. } => C::FrameInvalid,
                PipelineError::ImageDecode(_) => C::ImageInvalid,
            },
            KioskError::Watchlist(e) => match e {
                BlindError::NotAWatchlist
                | BlindError::UnsupportedVersion(_)
                | BlindError::Truncated { .. }
                | BlindError::Malformed(_)
                | BlindError::Limit { .. }
                | BlindError::Dimension { .. }
                | BlindError::Enrolment(_)
                | BlindError::PlainOprfRetired => C::WatchlistInvalid,
                BlindError::ForeignIssuer { .. } => C::WatchlistForeign,
                BlindError::BadSignature => C::WatchlistTampered,
                BlindError::NotYetValid(_) => C::WatchlistNotYetValid,
                BlindError::Expired(_) => C::WatchlistExpired,
                BlindError::WrongPrfKey | BlindError::KeyFile(_) => C::WatchlistWrongKey,
                BlindError::SuiteMismatch { .. } => C::WatchlistWrongCustody,
                BlindError::Authority(_) => C::AuthorityUnavailable,
                BlindError::AuthorityAnswer(_) => C::AuthorityBadAnswer,
                BlindError::AuthorityUnverified(_) => C::AuthorityAnswerUnverified,
            },
            KioskError::Profile(e) => match e {
                ProfileError::NotAProfile
                | ProfileError::Malformed(_)
                | ProfileError::TooLarge
                | ProfileError::EstimateForAnotherList(_) => C::ProfileInvalid,
                ProfileError::ForeignIssuer(_) | ProfileError::ForeignOverseer => C::ProfileForeign,
                ProfileError::BadSignature(_) => C::ProfileTampered,
                ProfileError::MissingOverseer => C::OverseerMissing,
                ProfileError::NoOverseerKey => C::OverseerKeyMissing,
                ProfileError::CustodyMismatch { .. } => C::ProfileCustodyMismatch,
                ProfileError::AuthorityKeyMismatch { .. } => C::ProfileAuthorityKey,
                ProfileError::InsecureAuthority(_) => C::AuthorityInsecure,
                ProfileError::KioskNotAllowed { .. } => C::KioskNotAllowed,
                ProfileError::NotYetValid(_) => C::ProfileNotYetValid,
                ProfileError::Expired(_) => C::ProfileExpired,
                ProfileError::WatchlistMismatch { .. } | ProfileError::ThresholdMismatch { .. } => {
                    C::ProfileWatchlistMismatch
                }
                ProfileError::BelowFloor { .. } => C::ProfileBelowFloor,
            },
            KioskError::SealedDeployment(e) => match e {
                DescriptorError::ForeignIssuer(_) => C::WatchlistForeign,
                DescriptorError::BadSignature => C::WatchlistTampered,
                DescriptorError::ModelMismatch { .. } => C::ModelMismatch,
                DescriptorError::NotYetValid(_) => C::WatchlistNotYetValid,
                DescriptorError::Expired(_) => C::WatchlistExpired,
                DescriptorError::NotADescriptor | DescriptorError::Malformed(_) => C::WatchlistInvalid,
            },
            KioskError::Options(_) => C::OptionsInvalid,
            KioskError::KeyFormat { .. } | KioskError::IssuerKey => C::KeyInvalid,
            KioskError::UnknownAlert(_) => C::AlertUnknown,
            KioskError::UnknownQuery(_) => C::QueryUnknown,
            KioskError::UnknownDisclosure(_) => C::DisclosureUnknown,
            KioskError::NoKioskKey => C::KeyInvalid,
            KioskError::KeyCheck(_) => C::KeyCheckPending,
            KioskError::BadDecision | KioskError::NoReviewer => C::ReviewInvalid,
            KioskError::NoFaceInView => C::NoFace,
            KioskError::PoorFace => C::FaceQuality,
            KioskError::BadLabel => C::LabelInvalid,
            KioskError::Audit(e) => match e {
                AuditError::ForeignLog { .. } | AuditError::Rebound { .. } => C::AuditLogForeign,
                AuditError::BadKey => C::KeyInvalid,
                _ => C::AuditLogBroken,
            },
            KioskError::ProfileRequired => C::ProfileRequired,
            KioskError::DemoUnderDeployment { .. } => C::DemoUnderDeployment,
            KioskError::Internal(_) => C::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_what_serde_writes_and_what_js_sees() {
        use ErrorCode::*;
        let all = [
            ModelMismatch,
            ModelInvalid,
            InferenceFailed,
            FrameInvalid,
            ImageInvalid,
            WatchlistInvalid,
            WatchlistForeign,
            WatchlistTampered,
            WatchlistNotYetValid,
            WatchlistExpired,
            WatchlistWrongKey,
            WatchlistWrongCustody,
            AuthorityUnavailable,
            AuthorityBadAnswer,
            AuthorityAnswerUnverified,
            ProfileInvalid,
            ProfileForeign,
            ProfileTampered,
            ProfileNotYetValid,
            ProfileExpired,
            ProfileWatchlistMismatch,
            ProfileBelowFloor,
            OverseerMissing,
            OverseerKeyMissing,
            ProfileRequired,
            ProfileCustodyMismatch,
            ProfileAuthorityKey,
            AuthorityInsecure,
            KioskNotAllowed,
            DemoUnderDeployment,
            OptionsInvalid,
            KeyInvalid,
            AlertUnknown,
            QueryUnknown,
            DisclosureUnknown,
            KeyCheckPending,
            ReviewInvalid,
            NoFace,
            FaceQuality,
            LabelInvalid,
            AuditLogBroken,
            AuditLogForeign,
            Internal,
        ];
        for code in all {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
        let expired = KioskError::Watchlist(BlindError::Expired("2026-12-01T00:00:00Z".into()));
        assert_eq!(expired.code().as_str(), "WATCHLIST_EXPIRED");
        assert!(expired.code().is_window_closed());
        assert!(expired.to_string().contains("ask the issuer"));
    }
}
