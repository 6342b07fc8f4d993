//! What puts `authority` and `serve` on the network, on tokio + hyper with tower's limits:
//!
//! - a cap on open connections (a semaphore taken on accept; a connection beyond it is closed at
//!   once, so a flood of idle sockets costs one file descriptor each for an instant, not a thread);
//! - hyper's header read timeout (a client must send its whole request head within the deadline,
//!   so slowloris clients and idle connections are cut) and buffer limit (a header line without
//!   end is refused with 431 at `MAX_HEAD_BYTES`, not buffered);
//! - a whole-request deadline (`tower::timeout`, 408), a body limit (413), and a concurrency cap
//!   that sheds load (503 with `Retry-After`) instead of queueing without bound;
//! - TLS with rustls (`--tls-cert`, `--tls-key`, PEM), through tokio-rustls, with a handshake deadline;
//! - one log line per request (method, path, status, latency; never a query string or a body);
//! - graceful shutdown on SIGTERM or Ctrl-C.

use std::future::Future;
use std::net::SocketAddr;
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
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::limit::RequestBodyLimitLayer;
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
}

impl Default for ServerArgs {
    /// The flags' defaults, without TLS.
    fn default() -> Self {
        ServerArgs { tls_cert: None, tls_key: None, max_connections: 1024, max_concurrent: 64, request_timeout: 10 }
    }
}

/// What one server needs besides its routes.
pub struct Server {
    pub name: &'static str,
    pub listen: SocketAddr,
    pub args: ServerArgs,
    /// The largest request body accepted (413 beyond).
    pub max_body: usize,
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
        self.start(None, async { Ok(routes) })
    }

    /// [`Server::run`] with routes built on the server's runtime first (for routes that hold
    /// connections the runtime must drive, such as a Redis state store's).
    pub fn run_built(self, routes: impl Future<Output = Result<Router>>) -> Result<()> {
        self.start(None, routes)
    }

    /// [`Server::run_built`] on a listener already bound (`listen` is then only named in the log).
    pub fn run_on(self, listener: std::net::TcpListener, routes: impl Future<Output = Result<Router>>) -> Result<()> {
        self.start(Some(listener), routes)
    }

    fn start(self, bound: Option<std::net::TcpListener>, routes: impl Future<Output = Result<Router>>) -> Result<()> {
        ensure!(self.args.max_connections > 0 && self.args.max_concurrent > 0, "the caps must be at least 1");
        ensure!(self.args.request_timeout > 0, "--request-timeout must be at least 1 second");
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
            let routes = routes.await?;
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
        tracing::info!(
            "{}: listening on {scheme}://{} (at most {} connections, {} requests at once, {} s per request)",
            self.name,
            self.listen,
            self.args.max_connections,
            self.args.max_concurrent,
            self.args.request_timeout
        );
        let service = ServiceBuilder::new()
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|request: &Request<Incoming>| {
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
            .layer(RequestBodyLimitLayer::new(self.max_body))
            .service(routes);
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
            let with_peer = tower::service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                service.clone().oneshot(request)
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

/// Answers `into_response` for a plain status with a reason (for the static file server).
pub fn plain(status: StatusCode, message: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message).into_response()
}
