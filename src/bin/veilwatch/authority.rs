//! `veilwatch authority`: the OPRF evaluator on the network, and the HTTP transport the CLI's
//! `identify` uses to reach it.
//!
//! Protocol: `POST /v1/evaluate` with a body of concatenated 32-byte blinded ristretto255 elements
//! (at most 4096); the answer is the evaluated elements in the same order. The authority sees only
//! blinded elements, which are uniformly random and differ on every query of the same face. It
//! rate-limits per client address and logs only counts, once a minute.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::Args;
use veilwatch::blind::prf::{OprfKey, OprfTransport, ELEMENT_BYTES};
use veilwatch::blind::BlindError;

use crate::key_files;

pub const MAX_ELEMENTS: usize = 4096;
const PATH: &str = "/v1/evaluate";

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
    #[arg(long, default_value_t = 120)]
    rate_per_minute: u32,
}

#[derive(Default)]
struct Counters {
    window_start: Option<Instant>,
    per_client: HashMap<IpAddr, u32>,
    requests: u64,
    elements: u64,
    refused: u64,
}

/// One request: method, path and body.
fn read_request(stream: &mut TcpStream) -> Result<(String, String, Vec<u8>)> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().context("bad Content-Length")?;
            }
        }
    }
    ensure!(length <= MAX_ELEMENTS * ELEMENT_BYTES, "request body of {length} bytes exceeds {MAX_ELEMENTS} elements");
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok((method, path, body))
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Headers: content-type\r\n\
         Access-Control-Allow-Methods: POST, OPTIONS\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body));
}

fn handle(mut stream: TcpStream, key: &OprfKey, counters: &Mutex<Counters>, rate: u32) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let peer = stream.peer_addr().map(|a| a.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let (method, path, body) = match read_request(&mut stream) {
        Ok(r) => r,
        Err(e) => return respond(&mut stream, "400 Bad Request", "text/plain", format!("{e:#}").as_bytes()),
    };
    if method == "OPTIONS" {
        return respond(&mut stream, "204 No Content", "text/plain", b"");
    }
    if method != "POST" || path != PATH {
        return respond(&mut stream, "404 Not Found", "text/plain", b"POST /v1/evaluate\n");
    }
    {
        let mut c = counters.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if c.window_start.map_or(true, |s| now.duration_since(s) >= Duration::from_secs(60)) {
            if c.window_start.is_some() {
                eprintln!(
                    "authority: last minute {} requests, {} elements, {} refused",
                    c.requests, c.elements, c.refused
                );
            }
            *c = Counters { window_start: Some(now), ..Counters::default() };
        }
        let used = c.per_client.entry(peer).or_default();
        if *used >= rate {
            c.refused += 1;
            drop(c);
            return respond(
                &mut stream,
                "429 Too Many Requests",
                "text/plain",
                b"query rate cap reached; try again in a minute\n",
            );
        }
        *used += 1;
        c.requests += 1;
        c.elements += (body.len() / ELEMENT_BYTES) as u64;
    }
    match key.evaluate_blinded(&body) {
        Ok(answer) => respond(&mut stream, "200 OK", "application/octet-stream", &answer),
        Err(e) => respond(&mut stream, "400 Bad Request", "text/plain", e.to_string().as_bytes()),
    }
}

pub fn run(args: AuthorityArgs) -> Result<()> {
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        bail!("refusing to listen on {} (not loopback); pass --allow-remote to insist", args.listen);
    }
    let key = key_files::oprf_key(&args.keys)?;
    let listener = TcpListener::bind(args.listen).with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!(
        "authority: evaluating blinded elements on http://{}{PATH} (cap {} requests/min per client)",
        args.listen, args.rate_per_minute
    );
    serve(listener, key, args.rate_per_minute);
    Ok(())
}

/// Answers requests on `listener` until the process ends, one thread per connection.
pub fn serve(listener: TcpListener, key: OprfKey, rate_per_minute: u32) {
    let key = Arc::new(key);
    let counters = Arc::new(Mutex::new(Counters::default()));
    for stream in listener.incoming().flatten() {
        let (key, counters) = (key.clone(), counters.clone());
        std::thread::spawn(move || handle(stream, &key, &counters, rate_per_minute));
    }
}

/// The CLI's side of the protocol: plain HTTP/1.1 to an `http://host:port` authority.
pub struct HttpAuthority {
    pub url: String,
}

impl HttpAuthority {
    fn address(&self) -> Result<(String, String), BlindError> {
        let rest = self.url.strip_prefix("http://").ok_or_else(|| {
            BlindError::Authority(format!(
                "{} is not an http:// URL (the CLI speaks plain HTTP to a local authority)",
                self.url
            ))
        })?;
        let (host, path) = rest.split_once('/').map_or((rest, String::new()), |(h, p)| (h, format!("/{p}")));
        let path = if path.is_empty() || path == "/" { PATH.to_owned() } else { path };
        Ok((host.to_owned(), path))
    }
}

impl OprfTransport for HttpAuthority {
    fn evaluate(&self, blinded: &[u8]) -> Result<Vec<u8>, BlindError> {
        let (host, path) = self.address()?;
        let unreachable =
            |e: std::io::Error| BlindError::Authority(format!("cannot reach the authority at {}: {e}", self.url));
        let mut stream = TcpStream::connect(&host).map_err(unreachable)?;
        stream.set_read_timeout(Some(Duration::from_secs(20))).map_err(unreachable)?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            blinded.len()
        );
        stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(blinded)).map_err(unreachable)?;
        let mut response = Vec::new();
        stream.take((MAX_ELEMENTS * ELEMENT_BYTES + 4096) as u64).read_to_end(&mut response).map_err(unreachable)?;
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| BlindError::AuthorityAnswer("no HTTP response".into()))?;
        let head = String::from_utf8_lossy(&response[..split]);
        let status = head.split_whitespace().nth(1).unwrap_or("");
        let body = response[split + 4..].to_vec();
        if status != "200" {
            return Err(BlindError::Authority(format!("HTTP {status}: {}", String::from_utf8_lossy(&body).trim())));
        }
        Ok(body)
    }
}
