//! `veilwatch authority`: the authority service on the network (routes in `veilwatch::authority`,
//! network limits and TLS in [`crate::http_server`]), and one on a loopback port for `bench`. The
//! CLI's client of it is [`crate::authority_client`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use axum::http::HeaderValue;
use clap::Args;
use ed25519_dalek::{SigningKey, VerifyingKey};
use veilwatch::authority::credential::AuthorityOrigin;
use veilwatch::authority::registration::Document;
use veilwatch::authority::service::{self, ServiceConfig};
use veilwatch::authority::store::{RedisStore, SqliteStore, StateStore};
use veilwatch::blind::prf::MasterSecret;

use crate::files::read;
use crate::http_server::{init_logging, Admin, Server, ServerArgs};
use crate::key_files;

#[derive(Args)]
pub struct AuthorityArgs {
    /// The authority's key folder (`veilwatch keygen`'s KEYS/authority, copied to this machine):
    /// authority-master.key (each deployment's VOPRF key is derived from it and the deployment id)
    /// and issuer.pub (whose documents it trusts). Refused if it holds an issuer secret key.
    #[arg(long)]
    keys: PathBuf,
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Where the operator reaches `GET /metrics` (per-kiosk counts) and `POST /issuer/documents`
    /// (plain HTTP): loopback unless --allow-remote; never the kiosks' listener.
    #[arg(long, default_value = "127.0.0.1:8788")]
    admin_listen: SocketAddr,
    /// Allow an address other than loopback.
    #[arg(long)]
    allow_remote: bool,
    /// A registration or revocation document (from `veilwatch registration …`) to apply at start;
    /// repeatable, applied in order. Later ones arrive by POST /issuer/documents.
    #[arg(long = "register", value_name = "FILE")]
    register: Vec<PathBuf>,
    /// Where registrations, revocations, budgets, nonces, anchors and the disclosure log live: a
    /// SQLite database file, created on first start (default: state.sqlite3 in the --keys folder); or
    /// `redis://HOST:PORT/` (shared by replicas); or `memory` (this process only: everything,
    /// revocations included, is lost on restart; for demonstrations, with a warning).
    #[arg(long)]
    state: Option<String>,
    /// Origin of a kiosk page allowed to call the authority from a browser (CORS), e.g.
    /// http://127.0.0.1:8080; repeatable. None: no CORS headers, so no browser page may call it.
    #[arg(long = "allow-origin", value_parser = parse_origin)]
    allow_origins: Vec<HeaderValue>,
    /// The origin kiosks reach this authority at (their profile's custody.url, or the CLI's
    /// --authority), e.g. https://authority.example: every request is signed for it, and one
    /// signed for another authority (staging, say) is refused. Repeatable (several public names);
    /// default: http(s)://--listen. Set it behind a proxy or a load balancer (the balancer's origin).
    #[arg(long = "public-origin", value_parser = parse_public_origin)]
    public_origins: Vec<AuthorityOrigin>,
    #[command(flatten)]
    server: ServerArgs,
}

/// The state database's name in the key folder when `--state` is not given.
pub const STATE_FILE: &str = "state.sqlite3";

/// `scheme://host[:port]`, nothing after: what a browser sends in `Origin`.
fn parse_origin(s: &str) -> Result<HeaderValue> {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ', '*']) => Ok(HeaderValue::from_str(s)?),
        _ => bail!("{s} is not an origin (scheme://host[:port], e.g. http://127.0.0.1:8080)"),
    }
}

fn parse_public_origin(s: &str) -> Result<AuthorityOrigin> {
    Ok(AuthorityOrigin::parse_exact(s)?)
}

/// `http://ADDR` (or `https://`): the origin of a listener when no `--public-origin` is given.
pub fn listen_origin(listen: SocketAddr, tls: bool) -> Result<AuthorityOrigin> {
    Ok(AuthorityOrigin::of_url(&format!("{}://{listen}", if tls { "https" } else { "http" }))?)
}

/// What `--state memory` prints, on stderr and in the log.
pub const MEMORY_STATE_WARNING: &str = "WARNING: --state memory keeps registrations, revocations, budgets, nonces, \
    anchors and the disclosure log in this process only: a restart forgets them, so a revoked kiosk works again \
    and the budgets start over. Use a database file (the default) or Redis for anything but a demonstration.";

async fn open_store(state: &str) -> Result<Arc<dyn StateStore>> {
    if state == "memory" {
        eprintln!("{MEMORY_STATE_WARNING}");
        tracing::warn!("{MEMORY_STATE_WARNING}");
        return Ok(Arc::new(SqliteStore::in_memory()?));
    }
    if state.starts_with("redis://") || state.starts_with("rediss://") {
        return Ok(Arc::new(RedisStore::connect(state).await?));
    }
    if state.contains("://") {
        bail!("--state {state}: expected a database file, `memory` or a redis://HOST:PORT/ URL");
    }
    let path = PathBuf::from(state);
    Ok(Arc::new(tokio::task::spawn_blocking(move || SqliteStore::open(&path)).await??))
}

/// Applies the `--register` documents in order. One that is not a valid document of the trusted
/// issuer stops the start-up; one the shared state has moved past (a newer registration, or a
/// revocation, sent while this replica was down) is only reported, so a replica restarted with
/// its old flags still starts.
async fn register_files(store: &dyn StateStore, issuer: &VerifyingKey, files: &[PathBuf]) -> Result<()> {
    for path in files {
        let bytes = read(path)?;
        let (document, applied) = match service::apply_document(store, issuer, &bytes).await {
            Ok(applied) => applied,
            Err(refusal) if matches!(refusal.token, "stale_document" | "revoked_deployment") => {
                tracing::warn!("{}: not applied: {} ({})", path.display(), refusal.message, refusal.token);
                continue;
            }
            Err(refusal) => bail!("{}: {} ({})", path.display(), refusal.message, refusal.token),
        };
        tracing::info!(
            "registered {} for deployment {} from {} ({applied:?})",
            document.kind(),
            document.deployment().to_hex(),
            path.display()
        );
    }
    Ok(())
}

pub fn run(args: AuthorityArgs) -> Result<()> {
    for listen in [args.listen, args.admin_listen] {
        if !listen.ip().is_loopback() && !args.allow_remote {
            bail!("refusing to listen on {listen} (not loopback); pass --allow-remote to insist");
        }
    }
    if args.listen == args.admin_listen {
        bail!("--listen and --admin-listen must differ: the admin routes are never on the kiosks' listener");
    }
    let (master, issuer) = key_files::authority_folder(&args.keys)?;
    init_logging();
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let state = args.state.unwrap_or_else(|| args.keys.join(STATE_FILE).display().to_string());
    let origins = match args.public_origins {
        origins if origins.is_empty() => vec![listen_origin(args.listen, args.server.serves_tls())?],
        origins => origins,
    };
    tracing::info!(
        "authority: state in {}; requests signed for {}; CORS for {}",
        if state == "memory" { "this process's memory" } else { &state },
        origins.iter().map(AuthorityOrigin::as_str).collect::<Vec<_>>().join(", "),
        if args.allow_origins.is_empty() { "no origin".to_owned() } else { format!("{:?}", args.allow_origins) }
    );
    let (register, allow_origins) = (args.register, args.allow_origins);
    let routes = async move {
        let store = open_store(&state).await?;
        register_files(store.as_ref(), &issuer, &register).await?;
        let config = ServiceConfig { issuer, origins, store, allow_origins, metrics: Some(metrics) };
        let routers = service::routers(master, config);
        Ok((routers.public, routers.admin))
    };
    let admin = Admin { name: "authority-admin", listen: args.admin_listen, body_limit: service::admin_body_limit };
    let server = Server {
        name: "authority",
        listen: args.listen,
        args: args.server,
        body_limit: service::public_body_limit,
        stop_on_signals: true,
    };
    server.run_with_admin(admin, routes)
}

/// An authority with the master secret `master` on a loopback port of its own, in a background thread, with an
/// in-memory database holding `documents` (signed by `issuer`), for `bench`; its address.
pub fn spawn_on_loopback(master: MasterSecret, issuer: SigningKey, documents: Vec<Document>) -> Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot listen on loopback for the authority")?;
    let listen = listener.local_addr()?;
    let issuer_public = issuer.verifying_key();
    let origins = vec![listen_origin(listen, false)?];
    let routes = async move {
        let store: Arc<dyn StateStore> = Arc::new(SqliteStore::in_memory()?);
        for document in &documents {
            service::apply_document(store.as_ref(), &issuer_public, document.sign(&issuer).as_bytes())
                .await
                .map_err(|refusal| anyhow::anyhow!("{} ({})", refusal.message, refusal.token))?;
        }
        Ok(service::routers(
            master,
            ServiceConfig { issuer: issuer_public, origins, store, allow_origins: Vec::new(), metrics: None },
        )
        .public)
    };
    let server = Server {
        name: "authority",
        listen,
        args: ServerArgs::default(),
        body_limit: service::public_body_limit,
        stop_on_signals: false,
    };
    std::thread::spawn(move || {
        if let Err(e) = server.run_on(listener, routes) {
            eprintln!("authority: {e:#}");
        }
    });
    Ok(listen)
}
