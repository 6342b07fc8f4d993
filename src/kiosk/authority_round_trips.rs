//! The kiosk's round trips to the authority under authority custody, in flight: the key check of a
//! deployment being loaded, the blind matches waiting for their answer, the alerts' reviewer
//! material being fetched, and the pause after an answer that failed verification.
//! [`AuthorityRoundTrips`] holds them for the session; the caller (the browser's asynchronous
//! `fetch`) carries every request out itself, so nothing here touches the network or blocks.
//!
//! - Matching (`POST /v1/evaluate`): a probe's PRF inputs are blinded into an [`AuthorityQuery`]
//!   (random group elements, which G1 lets leave); the session finishes it with the answer
//!   ([`PendingQuery::finish`]: the proof is verified under the deployment's public key before an
//!   output is unblinded), or reports it failed. A pending query holds the blinding state and the
//!   probe crop for the reviewer; both are wiped when it completes or fails, when its track ends,
//!   when its time runs out, and when matching stops.
//! - The key check (`POST /v1/key-check`): a deployment verified but for it waits here, not
//!   loaded, until the authority's answer proves it holds the watchlist's key.
//! - Pause: an answer whose proof fails (`AUTHORITY_ANSWER_UNVERIFIED`: tampered, or from an
//!   authority with another key) pauses matching, with an audit line, until the next load; the
//!   pending queries are wiped with it.
//! - Disclosure (`POST /v1/disclose`, DESIGN §3.3): an alert's record (the reviewer material) is
//!   at the authority; the alert comes with a [`DisclosureRequest`] (the entry's handle and a proof
//!   of its record key, bound to a nonce chosen here for the signed request). The material keys
//!   are wiped when it ends, when the alert is reviewed and when matching stops. Neither the
//!   material nor the handle is written to the audit log.

use serde::Serialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::deployment::{Deployment, KeyCheck};
use super::review::ProbeCrop;
use super::KioskError;
use crate::blind::material::{DisclosureBody, Handle, MaterialKeys};
use crate::blind::prf::{BlindedBatch, PUBLIC_KEY_BYTES};
use crate::blind::record::EntryRecord;
use crate::blind::BlindError;
use crate::governance::audit::AuditLog;

/// How long a blind match may wait for the authority unless the caller says otherwise.
pub const DEFAULT_TIMEOUT_MS: f64 = 5_000.0;

/// What an alert says while its material is on its way.
pub const MATERIAL_WAITING: &str = "waiting for the reviewer material from the authority";

/// One match's request to the authority: POST `body` to `path`, signed, and hand the answer to
/// `completeQuery(id, …)`. Under authority custody the blinded elements to `/v1/evaluate`; under
/// sealed custody one step of a face (`/v1/sealed/…`), whose answer may bring the next step.
#[derive(Debug, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct AuthorityQuery {
    pub id: u32,
    pub path: String,
    /// The deployment the request is for (32 hex, its `Veilwatch-Deployment` header): the one the
    /// query was made for, whatever the kiosk is loading meanwhile.
    pub deployment: String,
    #[serde(with = "serde_bytes")]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "Uint8Array"))]
    pub body: Vec<u8>,
}

/// One alert's request for its reviewer material: `POST /v1/disclose` with `body` (JSON
/// `{"handle", "proof"}`), signed as every authority request, with `Veilwatch-Nonce: nonce` (the
/// proof is bound to it).
#[derive(Debug, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct DisclosureRequest {
    pub alert: u32,
    /// The request nonce, 32 hex digits.
    pub nonce: String,
    #[serde(with = "serde_bytes")]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "Uint8Array"))]
    pub body: Vec<u8>,
}

/// What a finished (or failed) disclosure changed: alert `alert` now shows `record`, or `material`
/// says why it cannot.
#[derive(Debug, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct DisclosureResult {
    pub alert: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub record: Option<EntryRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub material: Option<String>,
}

/// A blind match waiting for the authority's answer. Dropping it wipes the blinding state, the
/// PRF inputs and the probe crop.
pub struct PendingQuery {
    id: u32,
    track: u32,
    batch: BlindedBatch,
    probe: ProbeCrop,
    expires_ms: f64,
}

impl PendingQuery {
    /// The track whose probe this is.
    pub fn track(&self) -> u32 {
        self.track
    }

    /// The probe crop the reviewer sees if the match alerts.
    pub fn probe(&self) -> &ProbeCrop {
        &self.probe
    }

    /// The PRF outputs from the authority's `answer` (the body of its reply), once its proof
    /// verifies under `public_key` ([`BlindedBatch::finish`]).
    pub fn finish(
        &self,
        answer: &[u8],
        public_key: &[u8; PUBLIC_KEY_BYTES],
    ) -> Result<Vec<Zeroizing<Vec<u8>>>, BlindError> {
        self.batch.finish(answer, public_key)
    }
}

/// An alert's reviewer material being fetched: its handle and the material keys (wiped on drop).
struct PendingDisclosure {
    alert: u32,
    handle: Handle,
    keys: MaterialKeys,
    watchlist_id: [u8; 16],
}

/// The round trips to the authority a session has in flight, and whether matching is paused.
pub struct AuthorityRoundTrips {
    /// How long a blind match may wait for its answer.
    timeout_ms: f64,
    pending: Vec<PendingQuery>,
    next_query: u32,
    /// A deployment verified but for the authority's key check; not matched against until the
    /// check passes.
    key_check: Option<KeyCheck>,
    /// Why matching is paused (an authority answer failed verification), until the next load.
    paused: Option<String>,
    /// Alerts whose reviewer material is being fetched from the authority.
    disclosures: Vec<PendingDisclosure>,
    /// Disclosure requests raised since the last result, to hand out with it.
    outgoing: Vec<DisclosureRequest>,
}

impl Default for AuthorityRoundTrips {
    fn default() -> AuthorityRoundTrips {
        AuthorityRoundTrips {
            timeout_ms: DEFAULT_TIMEOUT_MS,
            pending: Vec::new(),
            next_query: 1,
            key_check: None,
            paused: None,
            disclosures: Vec::new(),
            outgoing: Vec::new(),
        }
    }
}

const NO_KEY_CHECK: &str = "no watchlist is waiting for the authority's key check";

impl AuthorityRoundTrips {
    /// Blind matches must be answered within `timeout_ms` from now on.
    pub fn set_timeout(&mut self, timeout_ms: f64) {
        self.timeout_ms = timeout_ms;
    }

    /// How long a request may wait for its answer.
    pub fn timeout_ms(&self) -> f64 {
        self.timeout_ms
    }

    /// A query id no request of this session has had (sealed custody's steps draw from it too, so
    /// that a late answer to a request of a deployment since replaced is never taken for another).
    pub fn next_query_id(&mut self) -> u32 {
        let id = self.next_query;
        self.next_query += 1;
        id
    }

    /// Authority queries waiting for an answer.
    pub fn pending_queries(&self) -> usize {
        self.pending.len()
    }

    /// Refused (`KEY_CHECK_PENDING`) while an earlier load waits for its key check.
    pub fn refuse_during_key_check(&self) -> Result<(), KioskError> {
        match self.key_check {
            Some(_) => Err(KioskError::KeyCheck(
                "the authority is still checking the previous watchlist's key: wait for that load to finish",
            )),
            None => Ok(()),
        }
    }

    /// Keeps `check` open and returns its request body (one blinded element) for
    /// `POST {authority}/v1/key-check`.
    pub fn open_key_check(&mut self, check: KeyCheck) -> Vec<u8> {
        let body = check.request().to_vec();
        self.key_check = Some(check);
        body
    }

    /// Whether a loaded watchlist waits for the authority's key check.
    pub fn key_check_pending(&self) -> bool {
        self.key_check.is_some()
    }

    /// The deployment id (watchlist id) of the open key check, if one is open.
    pub fn key_check_deployment_id(&self) -> Option<[u8; 16]> {
        self.key_check.as_ref().map(KeyCheck::deployment_id)
    }

    /// Ends the open key check (`KEY_CHECK_PENDING` if none is open); [`finish_key_check`] takes it on.
    pub fn take_key_check(&mut self) -> Result<KeyCheck, KioskError> {
        self.key_check.take().ok_or(KioskError::KeyCheck(NO_KEY_CHECK))
    }

    /// Ends the open key check unanswered (`reason`: timeout, network error, HTTP status): the
    /// deployment is dropped and `AUTHORITY_UNAVAILABLE` returned, with the reason.
    pub fn fail_key_check(&mut self, reason: &str) -> KioskError {
        match self.key_check.take() {
            Some(_) => KioskError::Watchlist(BlindError::Authority(reason.to_owned())),
            None => KioskError::KeyCheck(NO_KEY_CHECK),
        }
    }

    /// Why matching is paused, if it is: an authority answer failed verification.
    pub fn paused(&self) -> Option<&str> {
        self.paused.as_deref()
    }

    /// Pauses matching after an answer that failed verification (`error`) at `endpoint`, with an
    /// audit line the first time; the pending queries are wiped (their answers could not be
    /// trusted either).
    pub fn pause_matching(&mut self, audit: &mut AuditLog, error: &BlindError, endpoint: &str, now_unix: i64) {
        let error = error.to_string();
        self.pause(audit, endpoint, "unverified", &error, error.clone(), now_unix);
    }

    /// Pauses matching because the authority suspended this kiosk (`reason`: its refusal), with an
    /// audit line the first time.
    pub fn pause_suspended(&mut self, audit: &mut AuditLog, endpoint: &str, reason: &str, now_unix: i64) {
        let shown = format!("the authority suspended this kiosk: {reason}");
        self.pause(audit, endpoint, "suspended", reason, shown, now_unix);
    }

    /// The one pause: pending queries wiped, an audit line (`outcome`, `error`) the first time,
    /// `shown` as why matching is paused, until the next load.
    fn pause(
        &mut self,
        audit: &mut AuditLog,
        endpoint: &str,
        outcome: &str,
        error: &str,
        shown: String,
        now_unix: i64,
    ) {
        self.pending.clear();
        if self.paused.is_none() {
            audit.append(
                now_unix,
                "authority",
                json!({"endpoint": endpoint, "outcome": outcome, "error": error, "matching": "paused"}),
            );
        }
        self.paused = Some(shown);
    }

    /// Matching resumes: a deployment was loaded.
    pub fn resume(&mut self) {
        self.paused = None;
    }

    /// The query that sends `batch` (track `track`'s blinded PRF inputs, taken at `now_ms`) to the
    /// authority for `deployment`; it waits, with `probe`, for its answer until the timeout.
    pub fn send_query(
        &mut self,
        track: u32,
        batch: BlindedBatch,
        probe: ProbeCrop,
        deployment: &[u8; 16],
        now_ms: f64,
    ) -> AuthorityQuery {
        let id = self.next_query_id();
        let query = AuthorityQuery {
            id,
            path: "/v1/evaluate".into(),
            deployment: crate::hex::hex(deployment),
            body: batch.request().to_vec(),
        };
        let expires_ms = now_ms + self.timeout_ms;
        self.pending.push(PendingQuery { id, track, batch, probe, expires_ms });
        query
    }

    /// Pending query `id`, no longer pending (`UNKNOWN_QUERY` if there is none).
    pub fn take_query(&mut self, id: u32) -> Result<PendingQuery, KioskError> {
        let index = self.pending.iter().position(|q| q.id == id).ok_or(KioskError::UnknownQuery(id))?;
        Ok(self.pending.remove(index))
    }

    /// Wipes the pending queries whose track is no longer live or whose time ran out at `now_ms`;
    /// returns how many timed out (failed attempts), with the reason when there are any.
    pub fn drop_stale_queries(&mut self, now_ms: f64, is_live: impl Fn(u32) -> bool) -> (u64, Option<String>) {
        let mut timed_out = 0;
        self.pending.retain(|q| {
            let late = now_ms >= q.expires_ms;
            timed_out += u64::from(late);
            !late && is_live(q.track)
        });
        let timeout_s = self.timeout_ms / 1000.0;
        (timed_out, (timed_out > 0).then(|| format!("the authority did not answer within {timeout_s} s")))
    }

    /// Wipes every pending query (the camera stopped, or another deployment was loaded).
    pub fn drop_queries(&mut self) {
        self.pending.clear();
    }

    /// Wipes every pending query and disclosure (matching stopped).
    pub fn drop_all(&mut self) {
        self.pending.clear();
        self.disclosures.clear();
        self.outgoing.clear();
    }

    /// Disclosures whose answer has not come yet.
    pub fn pending_disclosures(&self) -> usize {
        self.disclosures.len()
    }

    /// The request for the reviewer material of `alert` (an entry whose handle opened): its
    /// handle and proof under a fresh nonce for kiosk key `kiosk`. Kept pending until answered;
    /// handed out with the next result ([`AuthorityRoundTrips::take_outgoing`]).
    pub fn request_disclosure(
        &mut self,
        alert: u32,
        handle: Handle,
        keys: MaterialKeys,
        watchlist_id: [u8; 16],
        kiosk: &[u8; 32],
    ) {
        let mut nonce = [0u8; 16]; // a request nonce (protocol B)
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let nonce = crate::hex::hex(&nonce);
        let body =
            DisclosureBody::encode(&keys, &crate::hex::hex(&watchlist_id), &crate::hex::hex(kiosk), &nonce, &handle);
        self.outgoing.push(DisclosureRequest { alert, nonce, body });
        self.disclosures.push(PendingDisclosure { alert, handle, keys, watchlist_id });
    }

    /// The disclosure requests raised since the last call.
    pub fn take_outgoing(&mut self) -> Vec<DisclosureRequest> {
        std::mem::take(&mut self.outgoing)
    }

    /// Finishes alert `alert`'s disclosure with the authority's answer (the sealed material): the
    /// alert's record if it opens under the entry's material key, else why not. The material keys
    /// are wiped either way.
    pub fn complete_disclosure(&mut self, alert: u32, sealed: &[u8]) -> Result<DisclosureResult, KioskError> {
        let pending = self.take_disclosure(alert)?;
        Ok(match pending.keys.open(sealed, &pending.watchlist_id, &pending.handle) {
            Some(record) => DisclosureResult { alert, record: Some(record), material: None },
            None => not_available(alert, "the authority's answer is not this entry's reviewer material"),
        })
    }

    /// Records that alert `alert`'s material could not be fetched (`reason`) and wipes its keys.
    pub fn fail_disclosure(&mut self, alert: u32, reason: &str) -> Result<DisclosureResult, KioskError> {
        drop(self.take_disclosure(alert)?);
        Ok(not_available(alert, reason))
    }

    /// Ends the wait for alert `alert`'s material, if any (it was reviewed): its keys are wiped.
    pub fn forget_disclosure(&mut self, alert: u32) {
        self.disclosures.retain(|d| d.alert != alert);
    }

    fn take_disclosure(&mut self, alert: u32) -> Result<PendingDisclosure, KioskError> {
        let index =
            self.disclosures.iter().position(|d| d.alert == alert).ok_or(KioskError::UnknownDisclosure(alert))?;
        Ok(self.disclosures.remove(index))
    }
}

/// The deployment of key check `check`, once the authority's `answer` proves it holds the
/// watchlist's key ([`KeyCheck::finish`]); an answer that fails verification is written to the
/// audit log (the watchlist is not loaded).
pub fn finish_key_check(
    check: KeyCheck,
    answer: &[u8],
    audit: &mut AuditLog,
    now_unix: i64,
) -> Result<Deployment, KioskError> {
    check.finish(answer).inspect_err(|e| {
        if matches!(e, KioskError::Watchlist(BlindError::AuthorityUnverified(_))) {
            audit.append(
                now_unix,
                "authority",
                json!({"endpoint": "key-check", "outcome": "unverified",
                "error": e.to_string(), "watchlist_loaded": false}),
            );
        }
    })
}

fn not_available(alert: u32, reason: &str) -> DisclosureResult {
    DisclosureResult { alert, record: None, material: Some(format!("material not available: {reason}")) }
}
