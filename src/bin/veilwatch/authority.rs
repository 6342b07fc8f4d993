//! `veilwatch authority`: the OPRF evaluator on the network (routes in `veilwatch::authority`,
//! network limits and TLS in [`crate::http_server`]), and the HTTP client the CLI's `identify`
//! uses to reach it.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::http::HeaderValue;
use clap::Args;
use veilwatch::authority::service::{self, ServiceConfig, EVALUATE_PATH, MAX_ELEMENTS};
use veilwatch::blind::prf::{OprfTransport, ELEMENT_BYTES};
use veilwatch::blind::BlindError;

use crate::http_server::{init_logging, Server, ServerArgs};
use crate::key_files;

#[derive(Args)]
pub struct AuthorityArgs {
    /// Key folder from `veilwatch keygen` (uses prf-oprf.key).
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
    let key = key_files::oprf_key(&args.keys)?;
    init_logging();
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    tracing::info!(
        "authority: evaluating blinded elements at {EVALUATE_PATH} (cap {} requests/min per client address; CORS for {})",
        args.rate_per_minute,
        if args.allow_origins.is_empty() { "no origin".to_owned() } else { format!("{:?}", args.allow_origins) }
    );
    let routes = service::router(
        key,
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

/// An authority for `key` on a loopback port of its own, in a background thread, without a
/// rate cap (for `bench`); its address.
pub fn spawn_on_loopback(key: veilwatch::blind::prf::OprfKey) -> Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot listen on loopback for the authority")?;
    let listen = listener.local_addr()?;
    let routes = service::router(
        key,
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

/// The CLI's side of the protocol: `POST /v1/evaluate` to an `http://` or `https://` authority
/// (a URL without a path means the standard one).
pub struct HttpAuthority {
    pub url: String,
}

impl HttpAuthority {
    fn endpoint(&self) -> Result<String, BlindError> {
        let rest = self.url.strip_prefix("http://").or_else(|| self.url.strip_prefix("https://"));
        let Some(rest) = rest else {
            return Err(BlindError::Authority(format!("{} is not an http:// or https:// URL", self.url)));
        };
        match rest.split_once('/') {
            None | Some((_, "")) => Ok(format!("{}{EVALUATE_PATH}", self.url.trim_end_matches('/'))),
            Some(_) => Ok(self.url.clone()),
        }
    }
}

impl OprfTransport for HttpAuthority {
    fn evaluate(&self, blinded: &[u8]) -> Result<Vec<u8>, BlindError> {
        let endpoint = self.endpoint()?;
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(20)).build();
        let answer = agent.post(&endpoint).set("Content-Type", "application/octet-stream").send_bytes(blinded);
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
            &mut std::io::Read::take(response.into_reader(), (MAX_ELEMENTS * ELEMENT_BYTES + 1) as u64),
            &mut body,
        )
        .map_err(|e| BlindError::Authority(format!("cannot reach the authority at {}: {e}", self.url)))?;
        Ok(body)
    }
}
