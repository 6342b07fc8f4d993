//! `veilwatch authority`: the VOPRF evaluator on the network (routes in `veilwatch::authority`,
//! network limits and TLS in [`crate::http_server`]), and the HTTP client the CLI's `identify`
//! uses to reach it.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::http::HeaderValue;
use clap::Args;
use veilwatch::authority::credential::DEPLOYMENT;
use veilwatch::authority::service::{self, ServiceConfig, EVALUATE_PATH, MAX_ANSWER_BYTES, MAX_ELEMENTS};
use veilwatch::blind::prf::{AuthorityEndpoint, MasterSecret, OprfTransport, ELEMENT_BYTES};
use veilwatch::blind::BlindError;

use crate::http_server::{init_logging, Server, ServerArgs};
use crate::key_files;

#[derive(Args)]
pub struct AuthorityArgs {
    /// Key folder from `veilwatch keygen` (uses secret/authority-master.key: each deployment's
    /// VOPRF key is derived from it and the deployment id a request names).
    #[arg(long)]
    keys: PathBuf,
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Allow an address other than loopback.
    #[arg(long)]
    allow_remote: bool,
    /// Requests per client address per minute; one request carries one face's tables.
    #[arg(long, default_value_t = NonZeroU32::new(120).unwrap())]
    rate_per_minute: NonZeroU32,
    /// Origin of a kiosk page allowed to call the authority from a browser (CORS), e.g.
    /// http://127.0.0.1:8080; repeatable. None: no CORS headers, so no browser page may call it.
    #[arg(long = "allow-origin", value_parser = parse_origin)]
    allow_origins: Vec<HeaderValue>,
    #[command(flatten)]
    server: ServerArgs,
}

/// `scheme://host[:port]`, nothing after: what a browser sends in `Origin`.
fn parse_origin(s: &str) -> Result<HeaderValue> {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ', '*']) => Ok(HeaderValue::from_str(s)?),
        _ => bail!("{s} is not an origin (scheme://host[:port], e.g. http://127.0.0.1:8080)"),
    }
}

pub fn run(args: AuthorityArgs) -> Result<()> {
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        bail!("refusing to listen on {} (not loopback); pass --allow-remote to insist", args.listen);
    }
    let master = key_files::authority_master(&args.keys)?;
    init_logging();
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    tracing::info!(
        "authority: evaluating blinded elements at {EVALUATE_PATH} and /v1/key-check under per-deployment VOPRF keys (cap {} requests/min per client address; CORS for {})",
        args.rate_per_minute,
        if args.allow_origins.is_empty() { "no origin".to_owned() } else { format!("{:?}", args.allow_origins) }
    );
    let routes = service::router(
        master,
        ServiceConfig {
            rate_per_minute: args.rate_per_minute,
            allow_origins: args.allow_origins,
            metrics: Some(metrics),
        },
    );
    Server {
        name: "authority",
        listen: args.listen,
        args: args.server,
        max_body: MAX_ELEMENTS * ELEMENT_BYTES,
        stop_on_signals: true,
    }
    .run(routes)
}

/// An authority with the master secret `master` on a loopback port of its own, in a background
/// thread, without a rate cap (for `bench`); its address.
pub fn spawn_on_loopback(master: MasterSecret) -> Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot listen on loopback for the authority")?;
    let listen = listener.local_addr()?;
    let routes = service::router(
        master,
        ServiceConfig { rate_per_minute: NonZeroU32::MAX, allow_origins: Vec::new(), metrics: None },
    );
    let server = Server {
        name: "authority",
        listen,
        args: ServerArgs::default(),
        max_body: MAX_ELEMENTS * ELEMENT_BYTES,
        stop_on_signals: false,
    };
    std::thread::spawn(move || {
        if let Err(e) = server.run_on(listener, routes) {
            eprintln!("authority: {e:#}");
        }
    });
    Ok(listen)
}

/// The CLI's side of the protocol: `POST {url}/v1/evaluate` or `{url}/v1/key-check` to an
/// `http://` or `https://` authority, naming the deployment in `Veilwatch-Deployment`.
pub struct HttpAuthority {
    pub url: String,
}

impl HttpAuthority {
    fn endpoint(&self, endpoint: AuthorityEndpoint) -> Result<String, BlindError> {
        if !self.url.starts_with("http://") && !self.url.starts_with("https://") {
            return Err(BlindError::Authority(format!("{} is not an http:// or https:// URL", self.url)));
        }
        Ok(format!("{}{}", self.url.trim_end_matches('/'), endpoint.path()))
    }
}

impl OprfTransport for HttpAuthority {
    fn send(&self, endpoint: AuthorityEndpoint, deployment: &[u8; 16], blinded: &[u8]) -> Result<Vec<u8>, BlindError> {
        let endpoint = self.endpoint(endpoint)?;
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(20)).build();
        let answer = agent
            .post(&endpoint)
            .set("Content-Type", "application/octet-stream")
            .set(DEPLOYMENT, &veilwatch::hex::hex(deployment))
            .send_bytes(blinded);
        let response = match answer {
            Ok(response) => response,
            Err(ureq::Error::Status(status, response)) => {
                let reason = response.into_string().unwrap_or_default();
                return Err(BlindError::Authority(format!("HTTP {status}: {}", reason.trim())));
            }
            Err(e) => return Err(BlindError::Authority(format!("cannot reach the authority at {}: {e}", self.url))),
        };
        let mut body = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(response.into_reader(), (MAX_ANSWER_BYTES + 1) as u64),
            &mut body,
        )
        .map_err(|e| BlindError::Authority(format!("cannot reach the authority at {}: {e}", self.url)))?;
        Ok(body)
    }
}
