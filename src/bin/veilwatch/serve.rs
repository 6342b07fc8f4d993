//! `veilwatch serve`: the kiosk's static files, bound to loopback (network limits and TLS in
//! [`crate::http_server`]).
//!
//! It serves only regular files under the mounted folders, through tower-http's file service,
//! with the MIME types browsers insist on (`application/wasm` for streaming compilation, a
//! JavaScript type for module scripts) and a Content-Security-Policy that keeps every byte the
//! page fetches or sends on this origin (and the authority, if one is named). A path is refused
//! (404) if a segment is a dotfile or `..`, or if it resolves — through symlinks too — outside its
//! mount.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, ensure, Context, Result};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use clap::Args;
use tower::ServiceExt;
use tower_http::services::ServeFile;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::http_server::{init_logging, plain, Server, ServerArgs};

pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; \
img-src 'self' blob: data:; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Allow an address other than loopback (the kiosk is meant to be served to itself).
    #[arg(long)]
    allow_remote: bool,
    /// Authority origin the page may connect to (authority custody), e.g. http://127.0.0.1:8787;
    /// added to the CSP's connect-src.
    #[arg(long)]
    authority: Option<String>,
    /// Portal origins allowed to frame these pages (`<veilwatch-kiosk mode="isolated">`), e.g.
    /// https://portal.example; they replace the CSP's `frame-ancestors 'none'`. Default: none.
    #[arg(long = "frame-ancestors", num_args = 1..)]
    frame_ancestors: Vec<String>,
    /// `URL_PREFIX=FOLDER`, repeatable; the longest matching prefix wins. Default: `/=www`.
    #[arg(long = "mount", value_parser = parse_mount)]
    mounts: Vec<(String, PathBuf)>,
    #[command(flatten)]
    server: ServerArgs,
}

fn parse_mount(s: &str) -> Result<(String, PathBuf)> {
    let (prefix, dir) = s.split_once('=').context("expected URL_PREFIX=FOLDER")?;
    ensure!(prefix.starts_with('/'), "the URL prefix must start with /");
    Ok((prefix.trim_end_matches('/').to_owned(), PathBuf::from(dir)))
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "webmanifest" => "application/json",
        "wasm" => "application/wasm",
        "onnx" | "vwl" => "application/octet-stream",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Mounts as (URL prefix, canonical folder).
struct Mounts(Vec<(String, PathBuf)>);

impl Mounts {
    /// The file a URL path names: under the longest matching mount, every segment (percent-decoded)
    /// a plain name that does not start with `.`, and the canonical path (all symlinks followed)
    /// still inside the mount's canonical folder. A folder means its `index.html`.
    fn resolve(&self, url_path: &str) -> Option<PathBuf> {
        let path = percent_encoding::percent_decode_str(url_path).decode_utf8().ok()?;
        let (prefix, root) = self
            .0
            .iter()
            .filter(|(p, _)| path == p.as_str() || path.starts_with(&format!("{p}/")) || p.is_empty())
            .max_by_key(|(p, _)| p.len())?;
        let rest = path[prefix.len()..].trim_start_matches('/');
        let mut file = root.clone();
        for segment in rest.split('/').filter(|s| !s.is_empty()) {
            let mut components = Path::new(segment).components();
            let plain = matches!(components.next(), Some(Component::Normal(_))) && components.next().is_none();
            if !plain || segment.starts_with('.') || segment.contains('\\') {
                return None;
            }
            file.push(segment);
        }
        let mut file = file.canonicalize().ok()?;
        if file.is_dir() {
            file = file.join("index.html").canonicalize().ok()?;
        }
        (file.starts_with(root) && file.is_file()).then_some(file)
    }
}

async fn serve_file(State(mounts): State<Arc<Mounts>>, request: Request) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD are served\n");
    }
    let Some(file) = mounts.resolve(request.uri().path()) else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    let mime = content_type(&file).parse().unwrap_or(mime::APPLICATION_OCTET_STREAM);
    match ServeFile::new_with_mime(&file, &mime).oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(e) => match e {},
    }
}

/// `url` as an origin for the CSP: http(s), no trailing slash, nothing that could end the
/// directive or add a source (`flag` names the option in the refusal).
fn origin<'a>(flag: &str, url: &'a str) -> Result<&'a str> {
    let origin = url.trim_end_matches('/');
    if !(origin.starts_with("http://") || origin.starts_with("https://"))
        || origin.contains([' ', ';', '\'', '"', ',', '*'])
    {
        bail!("{flag} {url} is not an http(s) origin");
    }
    Ok(origin)
}

pub fn run(args: ServeArgs) -> Result<()> {
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        bail!("refusing to listen on {} (not loopback); pass --allow-remote to insist", args.listen);
    }
    let mounts = if args.mounts.is_empty() { vec![(String::new(), PathBuf::from("www"))] } else { args.mounts };
    let mut canonical = Vec::new();
    for (prefix, dir) in mounts {
        ensure!(dir.is_dir(), "mount {prefix}/ → {} is not a folder", dir.display());
        canonical.push((prefix, dir.canonicalize()?));
    }
    let mut csp = match &args.authority {
        Some(url) => CSP.replace("connect-src 'self'", &format!("connect-src 'self' {}", origin("--authority", url)?)),
        None => CSP.to_owned(),
    };
    if !args.frame_ancestors.is_empty() {
        let portals =
            args.frame_ancestors.iter().map(|url| origin("--frame-ancestors", url)).collect::<Result<Vec<_>>>()?;
        csp = csp.replace("frame-ancestors 'none'", &format!("frame-ancestors {}", portals.join(" ")));
    }
    let csp = HeaderValue::from_str(&csp).context("--authority or --frame-ancestors does not fit in a header")?;
    let headers = [
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
        (HeaderName::from_static("cross-origin-embedder-policy"), HeaderValue::from_static("require-corp")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    let mut routes = Router::new().fallback(serve_file).with_state(Arc::new(Mounts(canonical)));
    for (name, value) in headers {
        routes = routes.layer(SetResponseHeaderLayer::overriding(name, value));
    }
    init_logging();
    Server { name: "serve", listen: args.listen, args: args.server, body_limit: |_| 4096, stop_on_signals: true }
        .run(routes)
}
