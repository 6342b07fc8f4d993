//! `veilwatch serve`: a small static file server for the kiosk, bound to loopback.
//!
//! It serves only files under the mounted folders, with correct MIME types (browsers refuse
//! `application/wasm` streaming and module scripts otherwise) and a Content-Security-Policy that
//! keeps every byte the page fetches or sends on this origin.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use clap::Args;

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
    /// `URL_PREFIX=FOLDER`, repeatable; the longest matching prefix wins. Default: `/=www`.
    #[arg(long = "mount", value_parser = parse_mount)]
    mounts: Vec<(String, PathBuf)>,
}

fn parse_mount(s: &str) -> Result<(String, PathBuf)> {
    let (prefix, dir) = s.split_once('=').context("expected URL_PREFIX=FOLDER")?;
    ensure!(prefix.starts_with('/'), "the URL prefix must start with /");
    Ok((prefix.trim_end_matches('/').to_owned(), PathBuf::from(dir)))
}

fn mime(path: &Path) -> &'static str {
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

/// Maps a request path onto a file under a mount, refusing anything that climbs out of it.
fn resolve(mounts: &[(String, PathBuf)], url_path: &str) -> Option<PathBuf> {
    let path = url_path.split(['?', '#']).next().unwrap_or("/");
    let (prefix, dir) = mounts
        .iter()
        .filter(|(p, _)| path == p || path.starts_with(&format!("{p}/")) || p.is_empty())
        .max_by_key(|(p, _)| p.len())?;
    let rest = path[prefix.len()..].trim_start_matches('/');
    let rel = Path::new(rest);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let mut file = dir.join(rel);
    if file.is_dir() {
        file = file.join("index.html");
    }
    file.is_file().then_some(file)
}

fn respond(stream: &mut TcpStream, mounts: &[(String, PathBuf)], csp: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let (status, body, content_type) = if method != "GET" && method != "HEAD" {
        ("405 Method Not Allowed", b"only GET and HEAD are served\n".to_vec(), "text/plain; charset=utf-8")
    } else {
        match resolve(mounts, target).map(|f| (std::fs::read(&f), mime(&f))) {
            Some((Ok(bytes), mime)) => ("200 OK", bytes, mime),
            _ => ("404 Not Found", b"not found\n".to_vec(), "text/plain; charset=utf-8"),
        }
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Content-Security-Policy: {csp}\r\nX-Content-Type-Options: nosniff\r\n\
         Referrer-Policy: no-referrer\r\nCross-Origin-Opener-Policy: same-origin\r\n\
         Cross-Origin-Embedder-Policy: require-corp\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if method != "HEAD" {
        stream.write_all(&body)?;
    }
    // Only the method and path are logged: never query strings or bodies.
    eprintln!("{status} {method} {}", target.split('?').next().unwrap_or(""));
    Ok(())
}

pub fn run(args: ServeArgs) -> Result<()> {
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        bail!("refusing to listen on {} (not loopback); pass --allow-remote to insist", args.listen);
    }
    let mounts = if args.mounts.is_empty() { vec![(String::new(), PathBuf::from("www"))] } else { args.mounts };
    for (prefix, dir) in &mounts {
        ensure!(dir.is_dir(), "mount {prefix}/ → {} is not a folder", dir.display());
    }
    let csp = match &args.authority {
        Some(url) => {
            let origin = url.trim_end_matches('/');
            if !(origin.starts_with("http://") || origin.starts_with("https://"))
                || origin.contains([' ', ';', '\'', '"'])
            {
                bail!("--authority {url} is not an http(s) origin");
            }
            CSP.replace("connect-src 'self'", &format!("connect-src 'self' {origin}"))
        }
        None => CSP.to_owned(),
    };
    let listener = TcpListener::bind(args.listen).with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!("serving on http://{}/ (Ctrl-C to stop)", args.listen);
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let (mounts, csp) = (mounts.clone(), csp.clone());
        std::thread::spawn(move || {
            if let Err(e) = respond(&mut stream, &mounts, &csp) {
                eprintln!("connection error: {e}");
            }
        });
    }
    Ok(())
}
