//! A real `veilwatch authority` or `veilwatch serve` process on a loopback port, for the tests of
//! the HTTP services, with what they need around it: a key folder, blinded elements, raw requests
//! and the process's resident memory and thread count.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use curve25519_dalek::{RistrettoPoint, Scalar};

pub const BIN: &str = env!("CARGO_BIN_EXE_veilwatch");

/// A fresh scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("veilwatch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The deployment the tests' requests name (`Veilwatch-Deployment`, 32 hex): every evaluation is
/// under that deployment's key, derived from the authority's master secret.
pub const DEPLOYMENT: (&str, &str) = ("Veilwatch-Deployment", "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1");
/// Bytes of the batched proof that ends every evaluation answer.
pub const PROOF: usize = 64;

/// An issuer key folder from `veilwatch keygen` (the authority uses its authority-master.key).
pub fn keygen(scratch: &Path) -> PathBuf {
    let keys = scratch.join("keys");
    let out = Command::new(BIN).args(["keygen", "--out", keys.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    keys
}

/// `n` valid blinded elements (distinct ristretto255 points), as a kiosk's request body.
pub fn elements(n: usize, seed: u64) -> Vec<u8> {
    (0..n as u64)
        .flat_map(|i| RistrettoPoint::mul_base(&Scalar::from(seed * 1_000_000 + i + 1)).compress().to_bytes())
        .collect()
}

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Server {
    /// `veilwatch ARGS --listen 127.0.0.1:PORT`, once it accepts connections.
    pub fn start(args: &[&str], scratch: &Path) -> Server {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log = scratch.join(format!("server-{port}.log"));
        let child = Command::new(BIN)
            .args(args)
            .args(["--listen", &addr.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let server = Server { child, addr, log };
        let start = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(start.elapsed() < Duration::from_secs(20), "the server did not come up: {}", server.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// (VmRSS in KiB, Threads) of the server process, from /proc/PID/status.
    pub fn rss_and_threads(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| -> u64 {
            let line = status.lines().find(|l| l.starts_with(name)).unwrap();
            line[name.len()..].trim().trim_end_matches(" kB").trim().parse().unwrap()
        };
        (field("VmRSS:"), field("Threads:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request written by hand onto a fresh connection (so the test controls every byte); the
/// whole answer, read until the server closes or `timeout` passes.
pub fn raw(addr: SocketAddr, request: &[u8], timeout: Duration) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// A plain HTTP client (ureq) that does not turn 4xx/5xx into errors: (status, headers, body).
pub fn call(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
    let mut request = agent.request(method, url);
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let response = match if body.is_empty() && method == "GET" { request.call() } else { request.send_bytes(body) } {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    let headers =
        response.headers_names().iter().map(|n| (n.clone(), response.header(n).unwrap_or("").to_owned())).collect();
    let mut body = Vec::new();
    response.into_reader().read_to_end(&mut body).unwrap();
    (status, headers, body)
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}
