//! The authority's routes:
//!
//! - `POST /v1/evaluate`: a body of concatenated 32-byte blinded ristretto255 elements (at most
//!   [`MAX_ELEMENTS`]) for the deployment the `Veilwatch-Deployment` header names (32 hex, the
//!   watchlist id); the answer is the elements evaluated under that deployment's VOPRF key
//!   ([`evaluator`]) in the same order, followed by one 64-byte batched DLEQ proof. The authority
//!   sees only blinded elements, uniformly random and different on every query of the same face.
//! - `POST /v1/key-check`: the same for exactly one element (the watchlist's key-check input).
//! - `POST /v1/anchor`, `GET /v1/anchor/{kioskKey}`: a kiosk's signed audit-chain head ([`anchor`]).
//! - `GET /metrics`: requests, refusals by reason and evaluations, in the Prometheus text format.
//!
//! Every refusal is a 4xx/5xx with a plain-text reason. Nothing here logs or counts an element:
//! only request counts, element counts and refusal reasons.
//!
//! [`anchor`]: super::anchor
//! [`evaluator`]: super::evaluator

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use super::anchor::{verified_head, AnchorError, AnchorStore, MAX_HEAD_BYTES};
use super::credential::DEPLOYMENT;
use super::evaluator::DeploymentEvaluator;
use crate::blind::prf::{MasterSecret, ELEMENT_BYTES, PROOF_BYTES};
use crate::blind::BlindError;

/// The most elements one request may carry (one face's tables, and then some).
pub const MAX_ELEMENTS: usize = 4096;
pub const EVALUATE_PATH: &str = "/v1/evaluate";
pub const KEY_CHECK_PATH: &str = "/v1/key-check";
/// The most bytes of an answer: [`MAX_ELEMENTS`] elements and the proof.
pub const MAX_ANSWER_BYTES: usize = MAX_ELEMENTS * ELEMENT_BYTES + PROOF_BYTES;
/// Metric names (`/metrics`).
pub const REQUESTS: &str = "veilwatch_authority_requests_total";
pub const REFUSALS: &str = "veilwatch_authority_refusals_total";
pub const EVALUATED: &str = "veilwatch_authority_elements_evaluated_total";
/// Distinct client addresses the rate cap remembers before it forgets the idle ones.
const RATE_CAP_CLIENTS: usize = 10_000;

/// What the service is configured with; the binary fills it from its flags.
pub struct ServiceConfig {
    /// Requests per client address per minute (one request carries one face's tables).
    pub rate_per_minute: NonZeroU32,
    /// Kiosk origins allowed to call the authority from a browser (CORS); none → no CORS headers.
    pub allow_origins: Vec<HeaderValue>,
    /// The Prometheus recorder's handle, rendered at `/metrics`; `None` → no `/metrics`.
    pub metrics: Option<PrometheusHandle>,
}

struct Service {
    evaluator: DeploymentEvaluator,
    rate_cap: DefaultKeyedRateLimiter<IpAddr>,
    anchors: AnchorStore,
    metrics: Option<PrometheusHandle>,
}

/// Counts a refusal under its reason and answers it as plain text (the request's log line, written
/// by the server, carries the status).
pub fn refuse(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Response {
    metrics::counter!(REFUSALS, "reason" => reason).increment(1);
    let mut message = message.into();
    message.push('\n');
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message).into_response()
}

/// The authority's routes, with CORS for the configured origins. The caller adds the network
/// limits (deadline, concurrency, body size) and provides the client address as [`ConnectInfo`].
pub fn router(master: MasterSecret, config: ServiceConfig) -> Router {
    let service = Arc::new(Service {
        evaluator: DeploymentEvaluator::new(master),
        rate_cap: RateLimiter::keyed(Quota::per_minute(config.rate_per_minute)),
        anchors: AnchorStore::default(),
        metrics: config.metrics,
    });
    let router = Router::new()
        .route(EVALUATE_PATH, post(evaluate).layer(RequestBodyLimitLayer::new(MAX_ELEMENTS * ELEMENT_BYTES)))
        .route(KEY_CHECK_PATH, post(key_check).layer(RequestBodyLimitLayer::new(ELEMENT_BYTES)))
        .route("/v1/anchor", post(anchor).layer(RequestBodyLimitLayer::new(MAX_HEAD_BYTES)))
        .route("/v1/anchor/{kiosk_key}", get(anchored))
        .route("/metrics", get(render_metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(service);
    if config.allow_origins.is_empty() {
        return router;
    }
    router.layer(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(config.allow_origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE, header::HeaderName::from_static(DEPLOYMENT)]),
    )
}

async fn not_found() -> Response {
    refuse(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; the authority answers POST /v1/evaluate, POST /v1/key-check, POST /v1/anchor, GET /v1/anchor/{kioskKey}, GET /metrics",
    )
}

async fn method_not_allowed() -> Response {
    refuse(StatusCode::METHOD_NOT_ALLOWED, "method", "this endpoint does not take that method")
}

/// The deployment a request names in its `Veilwatch-Deployment` header: 32 lowercase hex digits;
/// otherwise the refusal's reason and message (answered 400).
fn deployment_of(headers: &HeaderMap) -> Result<[u8; 16], (&'static str, &'static str)> {
    let value = headers
        .get(DEPLOYMENT)
        .ok_or(("no_deployment", "the request names no deployment (Veilwatch-Deployment header)"))?;
    value
        .to_str()
        .ok()
        .filter(|text| !text.bytes().any(|b| b.is_ascii_uppercase()))
        .and_then(crate::hex::from_hex)
        .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
        .ok_or(("bad_deployment", "Veilwatch-Deployment must be 32 lowercase hex digits (the watchlist id)"))
}

/// Runs `evaluation` (one ristretto255 multiplication per element, and the proof) off the async
/// workers and answers with its bytes.
async fn answer(evaluation: impl FnOnce() -> Result<Vec<u8>, BlindError> + Send + 'static, elements: u64) -> Response {
    match tokio::task::spawn_blocking(evaluation).await {
        Ok(Ok(answer)) => {
            metrics::counter!(EVALUATED).increment(elements);
            ([(header::CONTENT_TYPE, "application/octet-stream"), (header::CACHE_CONTROL, "no-store")], answer)
                .into_response()
        }
        Ok(Err(e)) => refuse(StatusCode::BAD_REQUEST, "bad_elements", e.to_string()),
        Err(_) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the evaluation failed"),
    }
}

async fn key_check(State(service): State<Arc<Service>>, headers: HeaderMap, body: Bytes) -> Response {
    metrics::counter!(REQUESTS, "endpoint" => "key-check").increment(1);
    let deployment = match deployment_of(&headers) {
        Ok(deployment) => deployment,
        Err((reason, message)) => return refuse(StatusCode::BAD_REQUEST, reason, message),
    };
    answer(move || service.evaluator.key_check_for_deployment(&deployment, &body), 1).await
}

async fn evaluate(
    State(service): State<Arc<Service>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    metrics::counter!(REQUESTS, "endpoint" => "evaluate").increment(1);
    let deployment = match deployment_of(&headers) {
        Ok(deployment) => deployment,
        Err((reason, message)) => return refuse(StatusCode::BAD_REQUEST, reason, message),
    };
    if service.rate_cap.len() > RATE_CAP_CLIENTS {
        service.rate_cap.retain_recent();
    }
    if let Err(not_until) = service.rate_cap.check_key(&peer.ip()) {
        let wait = not_until.wait_time_from(DefaultClock::default().now()).as_secs() + 1;
        let mut refusal =
            refuse(StatusCode::TOO_MANY_REQUESTS, "rate_cap", format!("query rate cap reached; try again in {wait} s"));
        refusal.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return refusal;
    }
    let elements = (body.len() / ELEMENT_BYTES) as u64;
    answer(move || service.evaluator.evaluate_for_deployment(&deployment, &body), elements).await
}

async fn anchor(State(service): State<Arc<Service>>, body: Bytes) -> Response {
    metrics::counter!(REQUESTS, "endpoint" => "anchor").increment(1);
    let head = match verified_head(&body) {
        Ok(head) => head,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "bad_anchor", e.to_string()),
    };
    let (kiosk, seq) = (head.kiosk_key.clone(), head.seq);
    match service.anchors.record(head) {
        Ok(()) => {
            tracing::info!(kiosk, seq, "anchored audit head");
            (StatusCode::NO_CONTENT, [(header::CACHE_CONTROL, "no-store")]).into_response()
        }
        Err(e @ AnchorError::Backwards { .. }) => {
            tracing::warn!(kiosk, seq, "{e}");
            refuse(StatusCode::CONFLICT, "anchor_backwards", e.to_string())
        }
        Err(e) => refuse(StatusCode::BAD_REQUEST, "bad_anchor", e.to_string()),
    }
}

async fn anchored(State(service): State<Arc<Service>>, Path(kiosk_key): Path<String>) -> Response {
    metrics::counter!(REQUESTS, "endpoint" => "anchor").increment(1);
    match service.anchors.latest(&kiosk_key) {
        Some(head) => ([(header::CACHE_CONTROL, "no-store")], axum::Json(head)).into_response(),
        None => refuse(StatusCode::NOT_FOUND, "no_anchor", "no audit head is anchored for this kiosk key"),
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
