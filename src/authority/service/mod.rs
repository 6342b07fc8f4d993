//! The authority's routes (protocol B–G):
//!
//! - `POST /v1/evaluate`: one face, exactly L concatenated 32-byte blinded elements (L = the
//!   deployment's `tables`), charged to the kiosk's budgets before it is evaluated; the answer is
//!   the elements evaluated under the deployment's VOPRF key ([`super::evaluator`]), then one
//!   64-byte batched DLEQ proof the kiosk verifies against the key in the signed watchlist header.
//!   The authority sees only blinded elements.
//! - `POST /v1/key-check`: exactly one blinded element, answered the same way, at most 30 per
//!   kiosk per hour, each counted against the deployment's total like a face.
//! - `POST /v1/disclose`: the sealed reviewer material of one handle, on proof of its record key.
//! - `POST /v1/anchor`: a kiosk's signed audit-chain head (the credential's kiosk must be the head's),
//!   appended to the kiosk's history; another hash at an anchored seq is 409 `anchor_conflict`.
//! - `POST /v1/sealed/{seed,keys,match,claim,prove}`: sealed custody ([`sealed`]).
//!
//! A deployment is served on its custody's routes only, as recorded at registration
//! ([`RegisteredCustody`]): `/v1/evaluate`, `/v1/key-check` and `/v1/disclose` for VOPRF custody,
//! `/v1/sealed/*` for sealed custody (whose claims release reviewer material themselves), and
//! `/v1/anchor` for both; another route is 409 `wrong_custody`.
//! - `GET /v1/health`: 200 while the process serves, for load balancers' health checks.
//!
//! On the admin listener only ([`Routers::admin`]; loopback by default), because they carry
//! per-kiosk counts or take tens of MB:
//! - `GET /metrics` (Prometheus text).
//! - `GET /v1/anchor/{kioskKey}[?since=SEQ]`: a kiosk's anchor history, one head a line, for the
//!   auditor's `audit verify --anchors` (its length is the kiosk's audit line count, and its times
//!   when the kiosk was at work: not for strangers who know a kiosk's public key).
//! - `POST /issuer/documents`: a registration or revocation signed by the trusted issuer.
//!
//! Every `/v1/*` POST goes through [`admit`] first (the kiosk credential, [`super::credential`]);
//! nothing is evaluated, disclosed or stored on a refusal, and until a registered kiosk's
//! signature has verified every refusal answers only `unauthorised`. Refusals are 4xx/5xx with a plain-text
//! reason and the `Veilwatch-Refusal` token, counted by reason in `/metrics`. If the state store
//! fails, the answer is 503 `state_store_unavailable` and nothing is evaluated (fail closed).
//! Logs carry kiosk, deployment, endpoint and outcome; never an element.

pub mod sealed;

use std::sync::Arc;

use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{BoxError, Router};
use ed25519_dalek::VerifyingKey;
use metrics_exporter_prometheus::PrometheusHandle;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use super::anchor::{verified_head, AnchorError, MAX_HEAD_BYTES};
use super::budget::{self, Charge};
use super::credential::{self, admit_kiosk, AuthorityOrigin, Credential, CredentialRefusal};
use super::disclosure::{self, DiscloseRequest, Disclosure};
use super::evaluator::DeploymentEvaluator;
use super::registration::{Document, DocumentError, RegisteredCustody, Registration, MAX_DOCUMENT_BYTES};
use super::store::{Applied, StateStore, StoreError};
use crate::blind::prf::{MasterSecret, ELEMENT_BYTES, PROOF_BYTES};
use crate::time::now_unix;
use sealed::SealedState;

/// The most elements one request may carry (the largest L a registration may give).
pub const MAX_ELEMENTS: usize = super::registration::MAX_TABLES as usize;
pub const EVALUATE_PATH: &str = "/v1/evaluate";
pub const KEY_CHECK_PATH: &str = "/v1/key-check";
/// The largest `/v1/key-check` body read (one element is answered; a few more get a clear 400).
const KEY_CHECK_BODY_BYTES: usize = 64 * ELEMENT_BYTES;
/// The most bytes of an answer: [`MAX_ELEMENTS`] elements and the proof.
pub const MAX_ANSWER_BYTES: usize = MAX_ELEMENTS * ELEMENT_BYTES + PROOF_BYTES;
pub const DISCLOSE_PATH: &str = "/v1/disclose";
pub const ANCHOR_PATH: &str = "/v1/anchor";
/// A kiosk's anchor history, on the admin listener.
pub const ANCHOR_HISTORY_PATH: &str = "/v1/anchor/{kiosk_key}";
pub const DOCUMENTS_PATH: &str = "/issuer/documents";
pub const METRICS_PATH: &str = "/metrics";
/// What a load balancer checks: 200 while the process serves (it says nothing else).
pub const HEALTH_PATH: &str = "/v1/health";
/// Metric names (`/metrics`).
pub const REQUESTS: &str = "veilwatch_authority_requests_total";
pub const REFUSALS: &str = "veilwatch_authority_refusals_total";
pub const EVALUATED: &str = "veilwatch_authority_elements_evaluated_total";
pub const FACES: &str = "veilwatch_authority_faces_total";
pub const DISCLOSURES: &str = "veilwatch_authority_disclosures_total";
/// Documents parsed at once at most (each may be tens of MB); more are shed with 503.
const DOCUMENTS_AT_ONCE: usize = 2;

/// What the service is configured with; the binary fills it from its flags.
pub struct ServiceConfig {
    /// The issuer whose registration and revocation documents the authority accepts.
    pub issuer: VerifyingKey,
    /// The origins kiosks reach this authority at (its public names, behind any proxy): a request
    /// must be signed for one of them, so that one signed for another authority is refused.
    pub origins: Vec<AuthorityOrigin>,
    /// Where registrations, budgets, nonces, anchors and the disclosure log live.
    pub store: Arc<dyn StateStore>,
    /// Kiosk origins allowed to call the authority from a browser (CORS); none → no CORS headers.
    pub allow_origins: Vec<HeaderValue>,
    /// The Prometheus recorder's handle, rendered at `/metrics`; `None` → no `/metrics`.
    pub metrics: Option<PrometheusHandle>,
}

pub(super) struct Service {
    evaluator: DeploymentEvaluator,
    pub(super) sealed: SealedState,
    issuer: VerifyingKey,
    origins: Vec<AuthorityOrigin>,
    pub(super) store: Arc<dyn StateStore>,
    metrics: Option<PrometheusHandle>,
}

/// Counts a refusal under its reason and answers it as plain text with the `Veilwatch-Refusal`
/// token (the request's log line, written by the server, carries the status).
pub fn refuse(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Response {
    metrics::counter!(REFUSALS, "reason" => reason).increment(1);
    plain_refusal(status, reason, message.into())
}

fn plain_refusal(status: StatusCode, token: &'static str, mut message: String) -> Response {
    message.push('\n');
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (HeaderName::from_static(credential::REFUSAL), token)],
        message,
    )
        .into_response()
}

/// What every refusal before a registered kiosk's signature has verified says.
const UNAUTHORISED_MESSAGE: &str =
    "the request is not authorised: sign it with a kiosk key the issuer registered for the deployment";

/// A refused request: status, token, the reason a person reads, and when to try again.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub token: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
    /// Whether the requester is told `token` and `message`; if not, they go to the log and the
    /// metrics only and the answer is [`credential::UNAUTHORISED`].
    pub told: bool,
}

impl Refusal {
    pub(super) fn new(status: StatusCode, token: &'static str, message: impl Into<String>) -> Refusal {
        Refusal { status, token, message: message.into(), retry_after: None, told: true }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        if !self.told {
            metrics::counter!(REFUSALS, "reason" => self.token).increment(1);
            return plain_refusal(self.status, credential::UNAUTHORISED, UNAUTHORISED_MESSAGE.to_owned());
        }
        let mut response = refuse(self.status, self.token, self.message);
        if let Some(wait) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        }
        response
    }
}

impl From<CredentialRefusal> for Refusal {
    fn from(refusal: CredentialRefusal) -> Refusal {
        Refusal {
            told: refusal.is_told(),
            ..Refusal::new(StatusCode::UNAUTHORIZED, refusal.token(), refusal.to_string())
        }
    }
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Refusal {
        tracing::error!(reason = "state_store_unavailable", "{error}");
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "state_store_unavailable",
            "the authority's state store is unavailable; nothing was evaluated; try again shortly",
        )
    }
}

/// A budget's refusal: 429, with `Retry-After` unless the counter never resets.
pub(super) fn over_budget(charge: &Charge, now: i64) -> Refusal {
    Refusal {
        status: StatusCode::TOO_MANY_REQUESTS,
        token: charge.counter.token(),
        message: charge.counter.message(charge.limit),
        retry_after: charge.retry_after(now),
        told: true,
    }
}

/// The largest body of a request to `path` on the kiosks' listener (0 for a path that takes none):
/// the server reads a body in full, within this, before the request may take a slot.
pub fn public_body_limit(path: &str) -> usize {
    match path {
        EVALUATE_PATH => MAX_ELEMENTS * ELEMENT_BYTES,
        KEY_CHECK_PATH => KEY_CHECK_BODY_BYTES,
        DISCLOSE_PATH => disclosure::MAX_REQUEST_BYTES,
        ANCHOR_PATH => MAX_HEAD_BYTES,
        sealed::SEED_PATH => 0,
        sealed::KEYS_PATH => sealed::KEYS_BODY_BYTES,
        sealed::MATCH_PATH => sealed::MATCH_BODY_BYTES,
        sealed::CLAIM_PATH => sealed::CLAIM_BODY_BYTES,
        sealed::PROVE_PATH => sealed::PROVE_BODY_BYTES,
        _ => 0,
    }
}

/// [`public_body_limit`] for the admin listener.
pub fn admin_body_limit(path: &str) -> usize {
    match path {
        DOCUMENTS_PATH => MAX_DOCUMENT_BYTES,
        _ => 0,
    }
}

/// The authority's two sets of routes: what kiosks (and anyone) reach, and what only the operator
/// reaches, on a listener of its own (`--admin-listen`, loopback by default).
pub struct Routers {
    /// `/v1/*`, with CORS for the configured origins.
    pub public: Router,
    /// `GET /metrics` (per-kiosk counts: foot traffic and alerts as they happen),
    /// `GET /v1/anchor/{kioskKey}` (a kiosk's audit line count) and `POST /issuer/documents`.
    pub admin: Router,
}

/// The authority's routes. The caller adds the network limits (deadline, concurrency, body size).
pub fn routers(master: MasterSecret, config: ServiceConfig) -> Routers {
    let service = Arc::new(Service {
        sealed: SealedState::new(&master),
        evaluator: DeploymentEvaluator::new(master),
        issuer: config.issuer,
        origins: config.origins,
        store: config.store,
        metrics: config.metrics,
    });
    let documents_at_once = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|_: BoxError| async {
            let mut busy =
                refuse(StatusCode::SERVICE_UNAVAILABLE, "overloaded", "another document is being applied; try again");
            busy.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            busy
        }))
        .load_shed()
        .concurrency_limit(DOCUMENTS_AT_ONCE)
        .layer(RequestBodyLimitLayer::new(MAX_DOCUMENT_BYTES));
    let admin = Router::new()
        .route(DOCUMENTS_PATH, post(documents).layer(documents_at_once))
        .route(METRICS_PATH, get(render_metrics))
        .route(ANCHOR_HISTORY_PATH, get(anchored))
        .fallback(admin_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(service.clone());
    let public = Router::new()
        .route(EVALUATE_PATH, post(evaluate).layer(RequestBodyLimitLayer::new(MAX_ELEMENTS * ELEMENT_BYTES)))
        .route(KEY_CHECK_PATH, post(key_check).layer(RequestBodyLimitLayer::new(KEY_CHECK_BODY_BYTES)))
        .route(DISCLOSE_PATH, post(disclose).layer(RequestBodyLimitLayer::new(disclosure::MAX_REQUEST_BYTES)))
        .route(ANCHOR_PATH, post(anchor).layer(RequestBodyLimitLayer::new(MAX_HEAD_BYTES)))
        .route(sealed::SEED_PATH, post(sealed::seed).layer(RequestBodyLimitLayer::new(0)))
        .route(sealed::KEYS_PATH, post(sealed::keys).layer(RequestBodyLimitLayer::new(sealed::KEYS_BODY_BYTES)))
        .route(sealed::MATCH_PATH, post(sealed::match_face).layer(RequestBodyLimitLayer::new(sealed::MATCH_BODY_BYTES)))
        .route(sealed::CLAIM_PATH, post(sealed::claim).layer(RequestBodyLimitLayer::new(sealed::CLAIM_BODY_BYTES)))
        .route(sealed::PROVE_PATH, post(sealed::prove).layer(RequestBodyLimitLayer::new(sealed::PROVE_BODY_BYTES)))
        .route(HEALTH_PATH, get(health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(service);
    Routers { public: with_cors(public, config.allow_origins), admin }
}

/// CORS for the kiosk origins: the credential headers allowed, the refusal headers exposed.
fn with_cors(router: Router, allow_origins: Vec<HeaderValue>) -> Router {
    if allow_origins.is_empty() {
        return router;
    }
    let credential_headers =
        [credential::KIOSK, credential::DEPLOYMENT, credential::TIMESTAMP, credential::NONCE, credential::SIGNATURE]
            .map(HeaderName::from_static);
    router.layer(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(allow_origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE].into_iter().chain(credential_headers).collect::<Vec<_>>())
            .expose_headers([header::RETRY_AFTER, HeaderName::from_static(credential::REFUSAL)]),
    )
}

async fn not_found() -> Response {
    refuse(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; the authority answers POST /v1/evaluate, /v1/key-check, /v1/disclose, /v1/anchor, \
         /v1/sealed/seed, /v1/sealed/keys, /v1/sealed/match, /v1/sealed/claim, /v1/sealed/prove, GET /v1/health",
    )
}

async fn health() -> Response {
    ([(header::CACHE_CONTROL, "no-store")], "ok\n").into_response()
}

async fn admin_not_found() -> Response {
    refuse(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; the admin listener answers POST /issuer/documents, GET /metrics, GET /v1/anchor/{kioskKey}",
    )
}

async fn method_not_allowed() -> Response {
    refuse(StatusCode::METHOD_NOT_ALLOWED, "method", "this endpoint does not take that method")
}

/// A request that passed [`admit`]: its credential and the deployment's registration in force.
pub(super) struct Admitted {
    pub(super) credential: Credential,
    pub(super) registration: Registration,
    pub(super) now: i64,
}

impl Admitted {
    pub(super) fn deployment_hex(&self) -> String {
        self.credential.deployment.to_hex()
    }

    pub(super) fn kiosk_hex(&self) -> String {
        self.credential.kiosk.to_hex()
    }
}

/// The custody whose deployments a route serves; `None` for a route of every custody.
fn route_custody(path: &str) -> Option<RegisteredCustody> {
    match path {
        EVALUATE_PATH | KEY_CHECK_PATH | DISCLOSE_PATH => Some(RegisteredCustody::Voprf),
        sealed::SEED_PATH | sealed::KEYS_PATH | sealed::MATCH_PATH | sealed::CLAIM_PATH | sealed::PROVE_PATH => {
            Some(RegisteredCustody::BfvSealed)
        }
        _ => None,
    }
}

/// A route of another custody than the deployment's: 409 `wrong_custody`.
fn wrong_custody(path: &str, registered: RegisteredCustody, route: RegisteredCustody) -> Refusal {
    let instead = match registered {
        RegisteredCustody::Voprf => "/v1/evaluate",
        RegisteredCustody::BfvSealed => "/v1/sealed/*",
    };
    Refusal::new(
        StatusCode::CONFLICT,
        "wrong_custody",
        format!(
            "this deployment is registered for {} custody and {path} serves {} custody only; its kiosks use {instead} \
             (check the deployment profile's custody)",
            registered.name(),
            route.name()
        ),
    )
}

/// The check every `/v1/*` POST goes through, in this order: credential headers, the signature
/// with the key the request names, for one of this authority's origins (before anything is looked
/// up), the kiosk registered for the
/// deployment, then the deployment (not revoked, in its window), the kiosk (not revoked), the
/// clock and the nonce, and last the custody: a route serves only deployments registered for its
/// custody ([`RegisteredCustody`]; 409 `wrong_custody` otherwise). Until the kiosk is known to be
/// registered, a refusal says only `unauthorised` ([`CredentialRefusal::is_told`]).
pub(super) async fn admit(
    service: &Service,
    credential: Result<Credential, CredentialRefusal>,
    path: &str,
    body: &[u8],
) -> Result<Admitted, Refusal> {
    let now = now_unix();
    let credential = credential?;
    credential.verify_signature(&service.origins, Method::POST.as_str(), path, body)?;
    let state = service.store.deployment(&credential.deployment.0).await?;
    let registration = admit_kiosk(&credential, state.as_ref(), now)?.clone();
    credential.check_fresh(now)?;
    if !service.store.first_use_of_nonce(&credential.kiosk.0, &credential.nonce.0, now).await? {
        return Err(CredentialRefusal::Replayed.into());
    }
    if let Some(route) = route_custody(path) {
        if registration.custody() != route {
            return Err(wrong_custody(path, registration.custody(), route));
        }
    }
    Ok(Admitted { credential, registration, now })
}

/// Logs the outcome of a `/v1/*` request (kiosk and deployment as far as they were read) and
/// answers it.
pub(super) fn finish(
    endpoint: &'static str,
    credential: Option<&Credential>,
    outcome: Result<Response, Refusal>,
) -> Response {
    metrics::counter!(REQUESTS, "endpoint" => endpoint).increment(1);
    let kiosk = credential.map(|c| c.kiosk.to_hex()).unwrap_or_default();
    let deployment = credential.map(|c| c.deployment.to_hex()).unwrap_or_default();
    match outcome {
        Ok(response) => {
            tracing::info!(endpoint, kiosk, deployment, outcome = "served");
            response
        }
        Err(refusal) => {
            tracing::warn!(
                endpoint,
                kiosk,
                deployment,
                outcome = "refused",
                reason = refusal.token,
                "{}",
                refusal.message
            );
            refusal.into_response()
        }
    }
}

/// The one call every evaluation goes through: `body` evaluated under the deployment's VOPRF key,
/// then the batched proof, off the async workers (one ristretto255 multiplication per element).
async fn evaluate_elements(service: &Arc<Service>, deployment: &[u8; 16], body: Bytes) -> Result<Vec<u8>, Refusal> {
    let (service, deployment) = (service.clone(), *deployment);
    match tokio::task::spawn_blocking(move || service.evaluator.evaluate_for_deployment(&deployment, &body)).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(Refusal::new(StatusCode::BAD_REQUEST, "bad_elements", e.to_string())),
        Err(_) => Err(Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the evaluation failed")),
    }
}

pub(super) fn octets(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/octet-stream"), (header::CACHE_CONTROL, "no-store")], bytes).into_response()
}

fn wrong_count(expected: usize, body: &[u8]) -> Refusal {
    Refusal::new(
        StatusCode::BAD_REQUEST,
        "wrong_element_count",
        format!(
            "this request must carry exactly {expected} blinded elements ({} bytes); it carried {} bytes",
            expected * ELEMENT_BYTES,
            body.len()
        ),
    )
}

async fn evaluate(State(service): State<Arc<Service>>, headers: HeaderMap, body: Bytes) -> Response {
    let credential = Credential::from_headers(&headers);
    let outcome = async {
        let admitted = admit(&service, credential.clone(), EVALUATE_PATH, &body).await?;
        let (deployment, kiosk) = (admitted.deployment_hex(), admitted.kiosk_hex());
        let charges = budget::face(&admitted.registration.budgets, &deployment, &kiosk, admitted.now);
        let answer =
            charge_and_evaluate(&service, &admitted, usize::from(admitted.registration.tables), &charges, body).await?;
        metrics::counter!(FACES, "deployment" => deployment, "kiosk" => kiosk).increment(1);
        Ok(octets(answer))
    }
    .await;
    finish("evaluate", credential.as_ref().ok(), outcome)
}

async fn key_check(State(service): State<Arc<Service>>, headers: HeaderMap, body: Bytes) -> Response {
    let credential = Credential::from_headers(&headers);
    let outcome = async {
        let admitted = admit(&service, credential.clone(), KEY_CHECK_PATH, &body).await?;
        let charges = budget::key_check(
            &admitted.registration.budgets,
            &admitted.deployment_hex(),
            &admitted.kiosk_hex(),
            admitted.now,
        );
        charge_and_evaluate(&service, &admitted, 1, &charges, body).await.map(octets)
    }
    .await;
    finish("key-check", credential.as_ref().ok(), outcome)
}

/// What `/v1/evaluate` and `/v1/key-check` share once a request is admitted: exactly `elements`
/// blinded elements, `charges` taken atomically (all or none), then the evaluation.
async fn charge_and_evaluate(
    service: &Arc<Service>,
    admitted: &Admitted,
    elements: usize,
    charges: &[Charge],
    body: Bytes,
) -> Result<Vec<u8>, Refusal> {
    if body.len() != elements * ELEMENT_BYTES {
        return Err(wrong_count(elements, &body));
    }
    if let Some(refused) = service.store.charge(charges, admitted.now).await? {
        return Err(over_budget(&refused, admitted.now));
    }
    let answer = evaluate_elements(service, &admitted.credential.deployment.0, body).await?;
    metrics::counter!(EVALUATED).increment(elements as u64);
    Ok(answer)
}

async fn disclose(State(service): State<Arc<Service>>, headers: HeaderMap, body: Bytes) -> Response {
    let credential = Credential::from_headers(&headers);
    let outcome = async {
        let admitted = admit(&service, credential.clone(), DISCLOSE_PATH, &body).await?;
        let request = DiscloseRequest::parse(&body)
            .map_err(|message| Refusal::new(StatusCode::BAD_REQUEST, "malformed_request", message))?;
        let deployment = admitted.credential.deployment;
        let material = service.store.material(&deployment.0, &request.handle.0).await?.ok_or_else(|| {
            Refusal::new(StatusCode::NOT_FOUND, "unknown_handle", "no reviewer material is registered for this handle")
        })?;
        let (deployment_hex, kiosk_hex, handle_hex) =
            (admitted.deployment_hex(), admitted.kiosk_hex(), request.handle.to_hex());
        let nonce_hex = admitted.credential.nonce.to_hex();
        if !request.proves(&material.verifier.0, &deployment_hex, &kiosk_hex, &nonce_hex) {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "bad_proof",
                "the proof does not show knowledge of this entry's record key",
            ));
        }
        let charges = budget::disclosure(&admitted.registration.budgets, &deployment_hex, &kiosk_hex, admitted.now);
        if let Some(refused) = service.store.charge(&charges, admitted.now).await? {
            return Err(over_budget(&refused, admitted.now));
        }
        let entry =
            Disclosure { deployment, kiosk: admitted.credential.kiosk, handle: request.handle, time: admitted.now };
        service.store.log_disclosure(&entry).await?;
        tracing::info!(
            endpoint = "disclose",
            deployment = deployment_hex,
            kiosk = kiosk_hex,
            handle = handle_hex,
            time = admitted.now,
            "disclosed reviewer material"
        );
        metrics::counter!(DISCLOSURES, "deployment" => deployment_hex, "kiosk" => kiosk_hex).increment(1);
        Ok(octets(material.sealed.0))
    }
    .await;
    finish("disclose", credential.as_ref().ok(), outcome)
}

async fn anchor(State(service): State<Arc<Service>>, headers: HeaderMap, body: Bytes) -> Response {
    let credential = Credential::from_headers(&headers);
    let outcome = async {
        let admitted = admit(&service, credential.clone(), ANCHOR_PATH, &body).await?;
        let head =
            verified_head(&body).map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, "bad_anchor", e.to_string()))?;
        if head.kiosk_key != admitted.kiosk_hex() {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "anchor_kiosk_mismatch",
                "a kiosk may anchor only its own audit head (the head's kioskKey must be the request's kiosk)",
            ));
        }
        let seq = head.seq;
        match service.store.record_anchor(head).await? {
            Ok(()) => {
                tracing::info!(kiosk = admitted.kiosk_hex(), seq, "anchored audit head");
                Ok((StatusCode::NO_CONTENT, [(header::CACHE_CONTROL, "no-store")]).into_response())
            }
            Err(e @ AnchorError::Backwards { .. }) => {
                Err(Refusal::new(StatusCode::CONFLICT, "anchor_backwards", e.to_string()))
            }
            Err(e @ AnchorError::Conflict { .. }) => {
                tracing::error!(
                    kiosk = admitted.kiosk_hex(),
                    seq,
                    "anchor conflict, the kiosk's audit log was rewritten: {e}"
                );
                Err(Refusal::new(StatusCode::CONFLICT, "anchor_conflict", e.to_string()))
            }
            Err(e) => Err(Refusal::new(StatusCode::BAD_REQUEST, "bad_anchor", e.to_string())),
        }
    }
    .await;
    finish("anchor", credential.as_ref().ok(), outcome)
}

/// `GET /v1/anchor/{kioskKey}[?since=SEQ]` (admin listener): the kiosk's anchor history (the heads
/// above `SEQ`), one signed head a line, oldest first, as `veilwatch audit verify --anchors` reads it.
async fn anchored(
    State(service): State<Arc<Service>>,
    Path(kiosk_key): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    metrics::counter!(REQUESTS, "endpoint" => "anchor").increment(1);
    let since = match query.as_deref().map(|q| q.strip_prefix("since=").map(str::parse::<u64>)) {
        None => 0,
        Some(Some(Ok(seq))) => seq,
        Some(_) => return refuse(StatusCode::BAD_REQUEST, "bad_query", "the only query is ?since=SEQ (a number)"),
    };
    match service.store.anchors(&kiosk_key, since).await {
        Ok(heads) if heads.is_empty() => {
            refuse(StatusCode::NOT_FOUND, "no_anchor", "no audit head is anchored for this kiosk key (above that seq)")
        }
        Ok(heads) => {
            let lines: String = heads.iter().map(|h| h.to_json() + "\n").collect();
            ([(header::CONTENT_TYPE, "application/x-ndjson"), (header::CACHE_CONTROL, "no-store")], lines)
                .into_response()
        }
        Err(e) => Refusal::from(e).into_response(),
    }
}

/// Applies a verified document to the state; what happened, or why not.
pub async fn apply_document(
    store: &dyn StateStore,
    issuer: &VerifyingKey,
    bytes: &[u8],
) -> Result<(Document, Applied), Refusal> {
    let document = Document::parse(bytes, issuer).map_err(|e| {
        let status = match e {
            DocumentError::ForeignIssuer(_) | DocumentError::BadSignature => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        Refusal::new(status, e.token(), e.to_string())
    })?;
    match store.apply(&document).await? {
        Ok(applied) => {
            tracing::info!(
                endpoint = "documents",
                deployment = document.deployment().to_hex(),
                document = document.kind(),
                outcome = if applied == Applied::Changed { "applied" } else { "unchanged" },
            );
            Ok((document, applied))
        }
        Err(refused) => Err(Refusal::new(StatusCode::BAD_REQUEST, refused.token(), refused.to_string())),
    }
}

async fn documents(State(service): State<Arc<Service>>, body: Bytes) -> Response {
    metrics::counter!(REQUESTS, "endpoint" => "documents").increment(1);
    match apply_document(service.store.as_ref(), &service.issuer, &body).await {
        Ok(_) => (StatusCode::NO_CONTENT, [(header::CACHE_CONTROL, "no-store")]).into_response(),
        Err(refusal) => {
            tracing::warn!(endpoint = "documents", outcome = "refused", reason = refusal.token, "{}", refusal.message);
            refusal.into_response()
        }
    }
}

async fn render_metrics(State(service): State<Arc<Service>>) -> Response {
    match &service.metrics {
        Some(handle) => {
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
        }
        None => refuse(StatusCode::NOT_FOUND, "not_found", "metrics are not recorded by this process"),
    }
}
