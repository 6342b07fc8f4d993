//! `Kiosk`: the kiosk session for JS. Converts frames, options and results; the rules are
//! [`crate::kiosk`]'s.
//!
//! Camera frames are written by JS straight into a buffer this object owns in the wasm memory
//! ([`Kiosk::frame_buffer`]), not passed as arguments: wasm-bindgen would copy an argument into a
//! fresh allocation and free it unwiped, leaving the last passer-by's frame in the heap (G2).

use tsify::Ts;
use wasm_bindgen::prelude::*;

use super::{from_ts, js_error, to_ts, with_stack_wiped};
use crate::governance::audit::{kiosk_key_from_hex, Reopening};
use crate::kiosk::{
    DeploymentOptions, Detection, DisclosureResult, FrameResult, KioskError, KioskOptions, KioskSession, KioskStatus,
    QueryResult,
};
use crate::pipeline::FrameBuffer;

/// The audit chain's head, for the page to sign with the kiosk key.
#[derive(serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct AuditHead {
    /// The last line's `seq` (lines count from 1).
    pub seq: u64,
    /// That line's chain hash, 64 hex digits.
    pub head: String,
}

/// The kiosk: the face pipeline plus tracking, blind matching, human review and the audit log.
/// Embeddings stay inside; JS gets boxes, track ids, counters and alerts.
#[wasm_bindgen]
pub struct Kiosk {
    session: KioskSession,
    frame_buffer: FrameBuffer,
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn now_unix() -> i64 {
    crate::time::now_unix()
}

/// How long a blind match may wait for the authority unless `setAuthorityTimeout` says otherwise.
const DEFAULT_AUTHORITY_TIMEOUT_MS: u32 = 5_000;

#[wasm_bindgen]
impl Kiosk {
    /// A kiosk with both models (`detector`, `recognizer`: the model files' bytes), the overseer's
    /// public key if it has one (`overseerPublicKey`: then every profile must be co-signed by it)
    /// and, if the options name one, a deployment (`watchlist`, `issuerKey`, `custody`, `profile`,
    /// `kioskPublicKey`). Without a watchlist the kiosk detects and counts, and demo enrolment is
    /// available. Throws an `Error` with a `code` if a model, the watchlist, the profile or an
    /// option is refused.
    pub fn create(options: Ts<KioskOptions>) -> Result<Kiosk, JsValue> {
        super::panic::install();
        let mut options = from_ts(options, "Kiosk.create options")?;
        let deployment = options.take_deployment().map_err(js_error)?;
        let overseer = options.overseer_key().map_err(js_error)?;
        let engine = crate::pipeline::Engine::from_bytes(&options.detector, &options.recognizer)
            .map_err(|e| js_error(e.into()))?;
        let mut session = KioskSession::new(engine).with_overseer_key(overseer);
        session.set_authority_timeout(f64::from(DEFAULT_AUTHORITY_TIMEOUT_MS));
        let mut kiosk = Kiosk { session, frame_buffer: FrameBuffer::default() };
        if let Some(deployment) = deployment {
            kiosk.session.load_at_creation(deployment, now_unix()).map_err(js_error)?;
        }
        Ok(kiosk)
    }

    /// Loads (or replaces) the deployment: `{watchlist, issuerKey, custody, profile,
    /// kioskPublicKey?}`. The profile is required (`PROFILE_REQUIRED`) and must agree with the
    /// watchlist, the custody and this kiosk's key. Throws, and leaves the current state as it
    /// was, if anything is missing, foreign, tampered, expired or mismatched. Local custody is
    /// loaded at once (returns `undefined`). Under authority custody nothing touches the network
    /// here: it returns the key check's body (a `Uint8Array`) to `POST {authority}/v1/key-check`
    /// (header `Veilwatch-Deployment: deploymentId()`), then `completeKeyCheck(answer)` or
    /// `failKeyCheck(reason)` finishes the load; until then the
    /// current state stays and `status().loading` says why. Throws `KEY_CHECK_PENDING` while a
    /// check is open. Under sealed custody (`custody: {kind: "sealed", url}`, `watchlist`: the
    /// sealed deployment's signed descriptor) it is loaded at once, like local custody.
    #[wasm_bindgen(js_name = loadWatchlist)]
    pub fn load_watchlist(&mut self, options: Ts<DeploymentOptions>) -> Result<Option<Vec<u8>>, JsValue> {
        let options = from_ts(options, "loadWatchlist options")?;
        self.session.begin_load_deployment(options, now_unix()).map_err(js_error)
    }

    /// Finishes `loadWatchlist`'s key check with the body of the authority's answer (the element
    /// and its proof): the deployment is loaded and matching starts. Throws `WATCHLIST_WRONG_KEY`,
    /// `AUTHORITY_BAD_ANSWER` (wrong length) or `AUTHORITY_ANSWER_UNVERIFIED` (the proof fails
    /// under the watchlist's deployment key: tampered, or another deployment's or authority's
    /// answer; also written to the audit log), leaving the kiosk as it was before the load.
    #[wasm_bindgen(js_name = completeKeyCheck)]
    pub fn complete_key_check(&mut self, answer: &[u8]) -> Result<(), JsValue> {
        with_stack_wiped(|| self.session.complete_key_check(answer, now_unix()).map_err(js_error))
    }

    /// The deployment id (32 hex, the watchlist id) every request to the authority names in its
    /// `Veilwatch-Deployment` header: the open key check's, else the loaded deployment's;
    /// `undefined` when neither.
    #[wasm_bindgen(js_name = deploymentId)]
    pub fn deployment_id(&self) -> Option<String> {
        self.session.deployment_id()
    }

    /// Ends `loadWatchlist`'s key check without an answer (`reason`: timeout, network error, HTTP
    /// status): always throws, `AUTHORITY_UNAVAILABLE` with the reason (`KEY_CHECK_PENDING` if
    /// no check was open), and the kiosk stays as it was before the load.
    #[wasm_bindgen(js_name = failKeyCheck)]
    pub fn fail_key_check(&mut self, reason: &str) -> Result<(), JsValue> {
        Err(js_error(self.session.fail_key_check(reason)))
    }

    /// The buffer to write the next `width`×`height` RGBA camera frame into: a `Uint8Array` view
    /// on the wasm memory, the same memory for every frame of this size. Fill it, then call
    /// `processFrame(width, height)` or `enrollFromFrame(width, height, label)`, which wipe it.
    /// Ask for it again before every frame: any allocation in the engine may grow the memory,
    /// which detaches the views taken before (they then have length 0).
    #[wasm_bindgen(js_name = frameBuffer)]
    pub fn frame_buffer(&mut self, width: u32, height: u32) -> Result<js_sys::Uint8Array, JsValue> {
        let bytes = self.frame_buffer.for_size(width, height).map_err(|e| js_error(e.into()))?;
        // SAFETY: the view aliases `bytes`, which lives as long as this Kiosk and is reallocated
        // only by this method. JS must write through it before the next call into the module
        // (the documented contract above); a view outliving a memory growth is detached by the
        // JS engine, never left dangling.
        Ok(unsafe { js_sys::Uint8Array::view_mut_raw(bytes.as_mut_ptr(), bytes.len()) })
    }

    /// Demo mode: enrols the largest good face of the frame in the frame buffer (see
    /// `frameBuffer`) under `label` into a local-custody watchlist made in this browser (fresh
    /// keys, valid for a day). Returns the number enrolled. The frame buffer is wiped. Throws
    /// `DEMO_UNDER_DEPLOYMENT` while a deployment is loaded.
    #[wasm_bindgen(js_name = enrollFromFrame)]
    pub fn enroll_from_frame(&mut self, width: u32, height: u32, label: &str) -> Result<usize, JsValue> {
        with_stack_wiped(|| {
            let frame = self.frame_buffer.take_frame(width, height).map_err(|e| js_error(e.into()))?;
            self.session.enroll_from_frame(&frame, label, now_unix()).map_err(js_error)
        })
    }

    /// Processes the frame in the frame buffer (see `frameBuffer`), taken at `tMs` (default:
    /// now; the kiosk's time never goes back: an earlier `tMs` is ignored and logged, a jump of
    /// more than a minute is logged): tracked faces, new alerts (each with the reviewer's probe crop), counters, why
    /// matching failed, if it did, and under authority custody the `queries` to send to the
    /// authority (see `completeQuery`). The frame buffer is wiped, also when this throws. Throws when
    /// the deployment's window has closed (matching stops; detection goes on with the next frame).
    #[wasm_bindgen(js_name = processFrame)]
    pub fn process_frame(
        &mut self,
        width: u32,
        height: u32,
        #[wasm_bindgen(js_name = tMs)] t_ms: Option<f64>,
    ) -> Result<Ts<FrameResult>, JsValue> {
        with_stack_wiped(|| {
            let frame = self.frame_buffer.take_frame(width, height).map_err(|e| js_error(KioskError::from(e)))?;
            let result = self.session.process_frame(&frame, t_ms.unwrap_or_else(now_ms)).map_err(js_error)?;
            to_ts(&result)
        })
    }

    /// As `processFrame`, for a frame the detection Worker has detected already (`FaceDetector.detect`
    /// on the same pixels): aligns, assesses, embeds on need, tracks and matches. The kiosk runs
    /// detection and this in two Workers so that the next frame is detected while this one's faces
    /// are embedded. Throws `OPTIONS_INVALID` for a detection no detector made for this frame size.
    /// The frame buffer is wiped, also when this throws.
    #[wasm_bindgen(js_name = processDetectedFrame)]
    pub fn process_detected_frame(
        &mut self,
        width: u32,
        height: u32,
        detection: Ts<Detection>,
        #[wasm_bindgen(js_name = tMs)] t_ms: Option<f64>,
    ) -> Result<Ts<FrameResult>, JsValue> {
        with_stack_wiped(|| {
            let frame = self.frame_buffer.take_frame(width, height).map_err(|e| js_error(KioskError::from(e)))?;
            let detection = from_ts(detection, "processDetectedFrame detection")?;
            let result = self
                .session
                .process_detected_frame(&frame, detection, t_ms.unwrap_or_else(now_ms))
                .map_err(js_error)?;
            to_ts(&result)
        })
    }

    /// How long (ms) an authority query from `processFrame` may wait for `completeQuery` before it
    /// is wiped and counted as failed (default 5000). Use the same deadline for the request.
    #[wasm_bindgen(js_name = setAuthorityTimeout)]
    pub fn set_authority_timeout(&mut self, ms: u32) {
        self.session.set_authority_timeout(f64::from(ms));
    }

    /// Finishes the blind match of `processFrame`'s query `id` with the body of the authority's
    /// answer to it (`POST {authority}{path}` with the query's `body`): the alerts it raises,
    /// the counters, and `matchingError` if the answer was malformed. Under sealed custody a query
    /// is one step of a face, and the result's `queries` holds the next step (or the next face's
    /// first), sent the same way; the face's BFV secret key lives in this wasm memory only and is
    /// dropped by `stop()`. An answer whose proof fails
    /// (`AUTHORITY_ANSWER_UNVERIFIED`) pauses matching until the deployment is loaded again: the
    /// audit log records it and `status().paused` says why. The query is wiped either way. Throws `QUERY_UNKNOWN` if it was already answered, timed out or its face left.
    #[wasm_bindgen(js_name = completeQuery)]
    pub fn complete_query(&mut self, id: u32, answer: &[u8]) -> Result<Ts<QueryResult>, JsValue> {
        with_stack_wiped(|| {
            let result = self.session.complete_query(id, answer, now_unix()).map_err(js_error)?;
            to_ts(&result)
        })
    }

    /// Reports that query `id` got no usable answer (`reason`: timeout, network error, HTTP
    /// status) and wipes it; the result's `matchingError` says why matching is paused. Throws
    /// `QUERY_UNKNOWN` like `completeQuery`.
    #[wasm_bindgen(js_name = failQuery)]
    pub fn fail_query(&mut self, id: u32, reason: &str) -> Result<Ts<QueryResult>, JsValue> {
        // Under sealed custody a failure starts the next waiting face (its probe encrypted here).
        with_stack_wiped(|| {
            let result = self.session.fail_query(id, reason).map_err(js_error)?;
            to_ts(&result)
        })
    }

    /// Finishes the disclosure of alert `alert`'s reviewer material (authority custody) with the
    /// body of the authority's answer to its request (`POST {authority}/v1/disclose` with the
    /// `disclosures` entry's `body`, signed with its `nonce`): `{alert, record}` if the material
    /// opens, else `{alert, material}` saying why not. The material keys are wiped either way.
    /// Throws `DISCLOSURE_UNKNOWN` if the alert is not waiting for its material.
    #[wasm_bindgen(js_name = completeDisclosure)]
    pub fn complete_disclosure(&mut self, alert: u32, sealed: &[u8]) -> Result<Ts<DisclosureResult>, JsValue> {
        with_stack_wiped(|| {
            let result = self.session.complete_disclosure(alert, sealed).map_err(js_error)?;
            to_ts(&result)
        })
    }

    /// Reports that alert `alert`'s material could not be fetched (`reason`: the authority's
    /// refusal and its reason, a network error, a timeout): `{alert, material: "material not
    /// available: <reason>"}`; the alert stays pending review. Throws `DISCLOSURE_UNKNOWN` like
    /// `completeDisclosure`.
    #[wasm_bindgen(js_name = failDisclosure)]
    pub fn fail_disclosure(&mut self, alert: u32, reason: &str) -> Result<Ts<DisclosureResult>, JsValue> {
        let result = self.session.fail_disclosure(alert, reason).map_err(js_error)?;
        to_ts(&result)
    }

    /// Records a reviewer's decision (`confirm`, `reject` or `unsure`) and wipes the probe crop.
    #[wasm_bindgen(js_name = reviewAlert)]
    pub fn review_alert(&mut self, id: u32, decision: &str, reviewer: &str) -> Result<(), JsValue> {
        with_stack_wiped(|| self.session.review(id, decision, reviewer, now_unix()).map_err(js_error))
    }

    /// The hash-chained audit log as JSON lines (`veilwatch audit verify` checks it).
    #[wasm_bindgen(js_name = auditLog)]
    pub fn audit_log(&self) -> String {
        self.session.audit_log()
    }

    /// Continues the audit log stored on this device (`log`: its JSON lines, empty on a first
    /// start) under the kiosk key (`kioskKey`, 64 hex, if the kiosk has one), appending a `resume`
    /// line, or a `restart` line with `restartReason` after the engine failed. Call it right after
    /// `create`. Throws AUDIT_LOG_BROKEN if the stored chain does not verify and AUDIT_LOG_FOREIGN
    /// if it belongs to another kiosk key: a stored log is never silently started again.
    #[wasm_bindgen(js_name = restoreAudit)]
    pub fn restore_audit(
        &mut self,
        log: &str,
        #[wasm_bindgen(js_name = kioskKey)] kiosk_key: Option<String>,
        #[wasm_bindgen(js_name = restartReason)] restart_reason: Option<String>,
    ) -> Result<(), JsValue> {
        let key = kiosk_key.as_deref().map(parse_kiosk_key).transpose()?;
        let how = restart_reason.map_or(Reopening::Resume, Reopening::Restart);
        self.session.restore_audit(log, key, how, now_unix()).map_err(js_error)
    }

    /// Binds an audit log that has no kiosk key yet to `kioskKey` (64 hex): the operator just
    /// created it. Throws AUDIT_LOG_FOREIGN if the log already belongs to another key.
    #[wasm_bindgen(js_name = bindKioskKey)]
    pub fn bind_kiosk_key(&mut self, #[wasm_bindgen(js_name = kioskKey)] kiosk_key: &str) -> Result<(), JsValue> {
        let key = parse_kiosk_key(kiosk_key)?;
        self.session.bind_kiosk_key(key, now_unix()).map_err(js_error)
    }

    /// The audit chain's head `{seq, head}` to sign; `undefined` while the log is empty.
    #[wasm_bindgen(js_name = auditHead)]
    pub fn audit_head(&self) -> Result<Option<Ts<AuditHead>>, JsValue> {
        self.session
            .audit()
            .head()
            .map(|(seq, head)| to_ts(&AuditHead { seq, head: crate::hex::hex(&head) }))
            .transpose()
    }

    /// The audit log's lines after line `seq` (what is new since the page last stored it). `seq`
    /// is a JS number, as [`AuditHead::seq`] is: one type for a line number on the JS side. A
    /// negative, fractional or unsafe (above 2^53 − 1) number is refused with OPTIONS_INVALID.
    #[wasm_bindgen(js_name = auditLinesAfter)]
    pub fn audit_lines_after(&self, seq: f64) -> Result<String, JsValue> {
        const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;
        if !(0.0..=MAX_SAFE_INTEGER).contains(&seq) || seq.fract() != 0.0 {
            return Err(js_error(KioskError::Options(format!(
                "auditLinesAfter: seq must be a line number (an integer from 0 to 2^53 - 1), not {seq}"
            ))));
        }
        // Exact: an integer within the safe range.
        Ok(self.session.audit().lines_after(seq as u64))
    }

    /// What the status panel shows.
    pub fn status(&self) -> Result<Ts<KioskStatus>, JsValue> {
        to_ts(&self.session.status(now_unix()))
    }

    /// An SVG chart of expected false alerts per passer-by and true matches against the threshold,
    /// for the loaded watchlist's size and threshold (from the shipped calibration); `undefined`
    /// while nothing is loaded.
    #[wasm_bindgen(js_name = operatingPointChart)]
    pub fn operating_point_chart(&self) -> Option<String> {
        self.session.operating_point_chart()
    }

    /// Ends every track and wipes its buffers (camera stopped).
    pub fn stop(&mut self) {
        with_stack_wiped(|| self.session.stop());
    }
}

fn parse_kiosk_key(hex: &str) -> Result<[u8; 32], JsValue> {
    kiosk_key_from_hex(hex).map_err(|_| js_error(KioskError::KeyFormat { what: "kiosk key (an Ed25519 public key)" }))
}
