//! What puts `authority` and `serve` on the network, on tokio + hyper with tower's limits:
//!
//! - a cap on open connections (a semaphore taken on accept; a connection beyond it is closed at
//!   once, so a flood of idle sockets costs one file descriptor each for an instant, not a thread);
//! - hyper's header read timeout (a client must send its whole request head within the deadline,
//!   so slowloris clients and idle connections are cut) and buffer limit (a header line without
//!   end is refused with 431 at `MAX_HEAD_BYTES`, not buffered);
//! - the request body read in full, within its path's size limit (413; a declared length beyond it
//!   is refused before a byte is read) and a body deadline (408), *before* the request takes a
//!   concurrency slot, with at most `--max-uploads-per-address` bodies arriving at once from one
//!   client address (429): a client trickling bodies holds connections, never the slots kiosks need;
//! - a whole-request deadline (`tower::timeout`, 408) and a concurrency cap that sheds load (503
//!   with `Retry-After`) instead of queueing without bound;
//! - TLS with rustls (`--tls-cert`, `--tls-key`, PEM), through tokio-rustls, with a handshake deadline;
//! - one log line per request (method, path, status, latency; never a query string or a body);
//! - graceful shutdown on SIGTERM or Ctrl-C.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use axum::error_handling::HandleErrorLayer;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{BoxError, Router};
use clap::Args;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use veilwatch::authority::service::refuse;

/// The most a request head (request line and headers) may take; hyper refuses more with 431.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Connections the kernel may queue before they are accepted (it caps this at `somaxconn`).
const LISTEN_BACKLOG: u32 = 4096;

/// The network limits and TLS of a server; both `authority` and `serve` take them.
#[derive(Args, Clone)]
pub struct ServerArgs {
    /// Certificate chain (PEM) to serve HTTPS with; needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM, PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Open connections at most; one more is closed as soon as it is accepted.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Requests handled at once at most; more are refused with 503 and Retry-After.
    #[arg(long, default_value_t = 64)]
    max_concurrent: usize,
    /// Seconds a client has to send a request head, and a whole request to be answered in.
    #[arg(long, default_value_t = 10)]
    request_timeout: u64,
    /// Seconds a client has to send a request body once its head arrived (before the request may
    /// take one of the --max-concurrent slots).
    #[arg(long, default_value_t = 5)]
    body_timeout: u64,
    /// Request bodies arriving at once from one client address at most; more are refused with 429.
    #[arg(long, default_value_t = 16)]
    max_uploads_per_address: usize,
}

impl ServerArgs {
    /// Whether the server speaks HTTPS (it was given a certificate).
    pub fn serves_tls(&self) -> bool {
        self.tls_cert.is_some()
    }
}

impl Default for ServerArgs {
    /// The flags' defaults, without TLS.
    fn default() -> Self {
        ServerArgs {
            tls_cert: None,
            tls_key: None,
            max_connections: 1024,
            max_concurrent: 64,
            request_timeout: 10,
            body_timeout: 5,
            max_uploads_per_address: 16,
        }
    }
}

/// The operator's listener of a server ([`Server::run_with_admin`]).
pub struct Admin {
    pub name: &'static str,
    pub listen: SocketAddr,
    /// The largest request body accepted there on a path (413 beyond).
    pub body_limit: fn(&str) -> usize,
}

/// What one server needs besides its routes.
pub struct Server {
    pub name: &'static str,
    pub listen: SocketAddr,
    pub args: ServerArgs,
    /// The largest request body accepted on a path (413 beyond).
    pub body_limit: fn(&str) -> usize,
    /// Stop on SIGTERM / Ctrl-C (a server inside another command, such as `bench`'s, leaves the
    /// signals to that command).
    pub stop_on_signals: bool,
}

/// Logs as one line per event to stderr, `RUST_LOG` to change the level (default info).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).try_init();
}

/// A deadline or the concurrency cap, as the refusal the client sees.
async fn refusal(error: BoxError) -> Response {
    if error.is::<tower::timeout::error::Elapsed>() {
        refuse(StatusCode::REQUEST_TIMEOUT, "deadline", "the request was not received and answered within the deadline")
    } else if error.is::<tower::load_shed::error::Overloaded>() {
        let mut response =
            refuse(StatusCode::SERVICE_UNAVAILABLE, "overloaded", "too many requests at once; try again in a second");
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        response
    } else {
        refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("internal error: {error}"))
    }
}

fn tls_acceptor(cert: &PathBuf, key: &PathBuf) -> Result<TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read the certificate chain {}", cert.display()))?;
    ensure!(!certs.is_empty(), "{} holds no PEM certificate", cert.display());
    let key =
        PrivateKeyDer::from_pem_file(key).with_context(|| format!("cannot read the private key {}", key.display()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not make a usable pair")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

impl Server {
    /// Serves `routes` until SIGTERM or Ctrl-C, then lets open requests finish (at most the deadline).
    pub fn run(self, routes: Router) -> Result<()> {
        self.start(None, None, async { Ok((routes, None)) })
    }

    /// [`Server::run`] with routes built on the server's runtime first (for routes that hold
    /// connections the runtime must drive, such as a Redis state store's), and a second set of
    /// routes on a listener of their own (plain HTTP, the same caps), for what only the operator
    /// may reach: `routes` builds (public, admin).
    pub fn run_with_admin(self, admin: Admin, routes: impl Future<Output = Result<(Router, Router)>>) -> Result<()> {
        self.start(None, Some(admin), async { routes.await.map(|(public, admin)| (public, Some(admin))) })
    }

    /// [`Server::run`] with routes built on the server's runtime first, on a listener already bound
    /// (`listen` is then only named in the log).
    pub fn run_on(self, listener: std::net::TcpListener, routes: impl Future<Output = Result<Router>>) -> Result<()> {
        self.start(Some(listener), None, async { Ok((routes.await?, None)) })
    }

    fn start(
        self,
        bound: Option<std::net::TcpListener>,
        admin: Option<Admin>,
        routes: impl Future<Output = Result<(Router, Option<Router>)>>,
    ) -> Result<()> {
        ensure!(self.args.max_connections > 0 && self.args.max_concurrent > 0, "the caps must be at least 1");
        ensure!(self.args.request_timeout > 0, "--request-timeout must be at least 1 second");
        ensure!(self.args.body_timeout > 0, "--body-timeout must be at least 1 second");
        ensure!(self.args.max_uploads_per_address > 0, "--max-uploads-per-address must be at least 1");
        let tls = match (&self.args.tls_cert, &self.args.tls_key) {
            (Some(cert), Some(key)) => Some(tls_acceptor(cert, key)?),
            (None, None) => None,
            _ => bail!("--tls-cert and --tls-key go together"),
        };
        // A few async workers for the sockets; the CPU work (evaluations, file reads) runs on a
        // blocking pool of about one thread per core. The thread count is bounded by the machine,
        // never by the number of clients.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .worker_threads(cores.clamp(1, 4))
            .max_blocking_threads(cores.clamp(2, 16))
            .thread_name("veilwatch-http")
            .build()
            .context("cannot start the async runtime")?;
        runtime.block_on(async {
            let (routes, admin_routes) = routes.await?;
            if let (Some(admin), Some(admin_routes)) = (admin, admin_routes) {
                let server = Server {
                    name: admin.name,
                    listen: admin.listen,
                    args: ServerArgs { tls_cert: None, tls_key: None, ..self.args.clone() },
                    body_limit: admin.body_limit,
                    stop_on_signals: self.stop_on_signals,
                };
                let listener =
                    server.listen_socket().with_context(|| format!("cannot listen on {} (admin)", admin.listen))?;
                let signals = self.stop_on_signals;
                tokio::spawn(async move {
                    let shutdown = async move {
                        if signals {
                            shutdown_signal().await
                        } else {
                            std::future::pending().await
                        }
                    };
                    if let Err(e) = server.accept_loop(listener, admin_routes, None, shutdown).await {
                        tracing::error!("{}: {e:#}", admin.name);
                    }
                });
            }
            let listener = match bound {
                Some(listener) => {
                    listener.set_nonblocking(true)?;
                    TcpListener::from_std(listener).context("cannot use the listening socket")?
                }
                None => self.listen_socket().with_context(|| format!("cannot listen on {}", self.listen))?,
            };
            let signals = self.stop_on_signals;
            let shutdown = async move {
                if signals {
                    shutdown_signal().await
                } else {
                    std::future::pending().await
                }
            };
            self.accept_loop(listener, routes, tls, shutdown).await
        })
    }

    /// The listening socket, with a backlog deep enough that a burst of connections (a flood of
    /// idle ones) does not overflow it and make a kiosk's connection wait for a SYN retry.
    fn listen_socket(&self) -> std::io::Result<TcpListener> {
        let socket = if self.listen.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        socket.set_reuseaddr(true)?;
        socket.bind(self.listen)?;
        socket.listen(LISTEN_BACKLOG)
    }

    async fn accept_loop(
        self,
        listener: TcpListener,
        routes: Router,
        tls: Option<TlsAcceptor>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let deadline = Duration::from_secs(self.args.request_timeout);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let listening = listener.local_addr().unwrap_or(self.listen);
        tracing::info!(
            "{}: listening on {scheme}://{listening} (at most {} connections, {} requests at once, {} s per request)",
            self.name,
            self.args.max_connections,
            self.args.max_concurrent,
            self.args.request_timeout
        );
        let service = ServiceBuilder::new()
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|request: &Request<axum::body::Body>| {
                        tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
                    })
                    .on_response(DefaultOnResponse::new().level(Level::INFO))
                    // One line per request: a 5xx is already in the on_response line.
                    .on_failure(()),
            )
            .layer(HandleErrorLayer::new(refusal))
            .load_shed()
            .concurrency_limit(self.args.max_concurrent)
            .timeout(deadline)
            .service(routes);
        let uploads = Arc::new(Uploads::new(self.args.max_uploads_per_address));
        let (body_limit, body_deadline) = (self.body_limit, Duration::from_secs(self.args.body_timeout));
        let connections = Arc::new(Semaphore::new(self.args.max_connections));
        let graceful = GracefulShutdown::new();
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(deadline).max_buf_size(MAX_HEAD_BYTES).max_headers(64);
        tokio::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors or a connection reset before accept: wait, go on.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let Ok(permit) = connections.clone().try_acquire_owned() else {
                metrics::counter!(veilwatch::authority::service::REFUSALS, "reason" => "connection_cap").increment(1);
                tracing::warn!(%peer, "connection cap reached; closing the new connection");
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let service = service.clone();
            let uploads = uploads.clone();
            let with_peer = tower::service_fn(move |request: Request<Incoming>| {
                let (service, uploads) = (service.clone(), uploads.clone());
                async move {
                    let limit = body_limit(request.uri().path());
                    let mut request = match read_body(request, limit, body_deadline, &uploads, peer).await {
                        Ok(request) => request,
                        Err(refused) => return Ok(refused),
                    };
                    request.extensions_mut().insert(ConnectInfo(peer));
                    service.oneshot(request).await.map(|response| response.map(axum::body::Body::new))
                }
            });
            let (http, tls, watcher) = (http.clone(), tls.clone(), graceful.watcher());
            tokio::spawn(async move {
                let _permit = permit;
                let service = TowerToHyperService::new(with_peer);
                let result = match tls {
                    None => watcher.watch(http.serve_connection(TokioIo::new(tcp), service)).await,
                    Some(tls) => match tokio::time::timeout(deadline, tls.accept(tcp)).await {
                        Ok(Ok(stream)) => watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await,
                        Ok(Err(e)) => return tracing::debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
                    },
                };
                if let Err(e) = result {
                    tracing::debug!(%peer, "connection ended: {e}");
                }
            });
        }
        tracing::info!("{}: shutting down; letting open requests finish", self.name);
        drop(listener);
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(deadline) => tracing::warn!("{}: requests still open at the deadline; closing", self.name),
        }
        Ok(())
    }
}

/// The request bodies arriving now, per client address.
struct Uploads {
    per_address: usize,
    arriving: std::sync::Mutex<HashMap<IpAddr, usize>>,
}

/// One body arriving from `address`, counted until dropped.
struct Upload<'a> {
    uploads: &'a Uploads,
    address: IpAddr,
}

impl Uploads {
    fn new(per_address: usize) -> Uploads {
        Uploads { per_address, arriving: std::sync::Mutex::new(HashMap::new()) }
    }

    fn start(&self, address: IpAddr) -> Option<Upload<'_>> {
        let mut arriving = self.arriving.lock().unwrap_or_else(|e| e.into_inner());
        let count = arriving.entry(address).or_insert(0);
        if *count >= self.per_address {
            return None;
        }
        *count += 1;
        Some(Upload { uploads: self, address })
    }
}

impl Drop for Upload<'_> {
    fn drop(&mut self) {
        let mut arriving = self.uploads.arriving.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = arriving.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                arriving.remove(&self.address);
            }
        }
    }
}

/// The request with its body read in full: at most `limit` bytes (a larger declared length is
/// refused before a byte is read), within `deadline`, one of at most the per-address cap of bodies
/// arriving from `peer` at once. The refusal otherwise (413, 408, 429, 400).
async fn read_body(
    request: Request<Incoming>,
    limit: usize,
    deadline: Duration,
    uploads: &Uploads,
    peer: SocketAddr,
) -> Result<Request<axum::body::Body>, Response> {
    let (started, method, path) =
        (std::time::Instant::now(), request.method().clone(), request.uri().path().to_owned());
    // The request's one log line, as the trace layer writes it for the requests that reach it.
    let refused = |response: Response, why: &str| {
        let (status, latency) = (response.status().as_u16(), started.elapsed());
        tracing::warn!(%peer, %method, path = %path, status, ?latency, "request body refused: {why}");
        response
    };
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is too large: at most {limit} bytes on this path (length limit exceeded)"),
        )
    };
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(refused(too_large(), "declared length above the limit"));
    }
    let Some(_upload) = uploads.start(peer.ip()) else {
        let mut response = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "address_cap",
            "too many request bodies are arriving from this address at once; try again in a second",
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return Err(refused(response, "per-address cap"));
    };
    let (parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(deadline, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<LengthLimitError>() => return Err(refused(too_large(), "streamed past the limit")),
        Ok(Err(e)) => {
            let response = refuse(StatusCode::BAD_REQUEST, "bad_body", "the request body could not be read");
            return Err(refused(response, &e.to_string()));
        }
        Err(_) => {
            let response = refuse(
                StatusCode::REQUEST_TIMEOUT,
                "body_deadline",
                format!("the request body did not arrive within {} s", deadline.as_secs()),
            );
            return Err(refused(response, "body deadline"));
        }
    };
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}

/// Answers `into_response` for a plain status with a reason (for the static file server).
pub fn plain(status: StatusCode, message: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message).into_response()
}
