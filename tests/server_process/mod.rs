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

/// The `veilwatch` binary under test: `VEILWATCH_BIN` if set (a copy of this checkout's build,
/// which another checkout sharing the cargo target dir cannot overwrite mid-run, as in
/// tests/harness.mjs), else cargo's.
pub fn bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| std::env::var("VEILWATCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_veilwatch").to_owned()))
}

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

/// An issuer key folder from `veilwatch keygen` (the authority gets its `authority/` folder).
pub fn keygen(scratch: &Path) -> PathBuf {
    let keys = scratch.join("keys");
    let out = Command::new(bin()).args(["keygen", "--out", keys.to_str().unwrap()]).output().unwrap();
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
    /// The origin requests to it are signed for: its first `--public-origin`, else its listen
    /// address (`https://` with `--tls-cert`), as the authority defaults.
    pub origin: AuthorityOrigin,
    /// An authority's admin listener (`/metrics`, `/issuer/documents`).
    pub admin: Option<SocketAddr>,
    pub log: PathBuf,
}

fn free_loopback_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

impl Server {
    /// `veilwatch ARGS --listen 127.0.0.1:PORT` (and for `authority`, `--admin-listen` on another
    /// free port unless ARGS name one), once it accepts connections.
    pub fn start(args: &[&str], scratch: &Path) -> Server {
        let addr = free_loopback_port();
        let log = scratch.join(format!("server-{}.log", addr.port()));
        let mut command = Command::new(bin());
        command.args(args).args(["--listen", &addr.to_string()]);
        let admin = (args.first() == Some(&"authority") && !args.contains(&"--admin-listen")).then(free_loopback_port);
        if let Some(admin) = admin {
            command.args(["--admin-listen", &admin.to_string()]);
        }
        let child = command.stdout(Stdio::null()).stderr(std::fs::File::create(&log).unwrap()).spawn().unwrap();
        let public = args.iter().position(|a| *a == "--public-origin").map(|i| args[i + 1].to_owned());
        let scheme = if args.contains(&"--tls-cert") { "https" } else { "http" };
        let origin = AuthorityOrigin::of_url(&public.unwrap_or_else(|| format!("{scheme}://{addr}"))).unwrap();
        let server = Server { child, addr, origin, admin, log };
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

    /// A URL on the authority's admin listener.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin.expect("an authority started by Server::start"))
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

// ---- Deployments, kiosk credentials and Redis, for the authority's tests ----

use ed25519_dalek::SigningKey;
use veilwatch::authority::credential::{AuthorityOrigin, RequestSigner};
use veilwatch::authority::registration::{Budgets, Document, HexBytes, Registration};

/// The issuer's signing key of a key folder (what `veilwatch registration` signs with).
pub fn issuer_key(keys: &Path) -> SigningKey {
    let text = std::fs::read_to_string(keys.join("secret/issuer.key")).unwrap();
    SigningKey::from_bytes(&veilwatch::from_hex(text.trim()).unwrap().try_into().unwrap())
}

/// Budgets that do not get in a test's way.
pub fn generous() -> Budgets {
    Budgets {
        faces_per_minute: 100_000,
        faces_per_day: 1_000_000,
        faces_total: 10_000_000,
        disclosures_per_hour: 10,
        deployment_disclosures_per_hour: 100,
        deployment_disclosures_per_day: 1000,
    }
}

pub fn now() -> i64 {
    veilwatch::time::now_unix()
}

/// A deployment for the tests: a random id, L tables, valid from an hour ago for a day, one
/// kiosk (a fresh key) and the given budgets.
pub struct TestDeployment {
    pub kiosk: SigningKey,
    pub registration: Registration,
}

impl TestDeployment {
    pub fn new(tables: u16, budgets: Budgets) -> TestDeployment {
        let mut id = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
        let kiosk = SigningKey::generate(&mut rand_core::OsRng);
        let registration = Registration {
            deployment: HexBytes(id),
            issued: now(),
            not_before: now() - 3600,
            not_after: now() + 86_400,
            tables,
            budgets,
            kiosk_keys: vec![HexBytes(kiosk.verifying_key().to_bytes())],
            materials: Vec::new(),
        };
        TestDeployment { kiosk, registration }
    }

    pub fn id(&self) -> [u8; 16] {
        self.registration.deployment.0
    }

    pub fn signer(&self) -> RequestSigner {
        RequestSigner::new(self.kiosk.clone(), &self.id())
    }

    /// The registration, signed by the key folder's issuer, written to `scratch/NAME`.
    pub fn document(&self, keys: &Path, scratch: &Path, name: &str) -> PathBuf {
        let path = scratch.join(name);
        let text = Document::RegisterDeployment(self.registration.clone()).sign(&issuer_key(keys));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// One face of this deployment: L valid blinded elements.
    pub fn face(&self, seed: u64) -> Vec<u8> {
        elements(self.registration.tables as usize, seed)
    }
}

/// `veilwatch authority --keys KEYS/authority --register DOC ARGS…` for one deployment.
pub fn authority_for(keys: &Path, deployment: &TestDeployment, scratch: &Path, extra: &[&str]) -> Server {
    let document = deployment.document(
        keys,
        scratch,
        &format!("registration-{}.txt", deployment.registration.deployment.to_hex()),
    );
    let authority_keys = keys.join("authority");
    let mut args =
        vec!["authority", "--keys", authority_keys.to_str().unwrap(), "--register", document.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start(&args, scratch)
}

/// A signed POST of `body` to `path`, as the kiosk of `signer` sends it (signed now).
pub fn signed(
    server: &Server,
    signer: &RequestSigner,
    path: &str,
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    signed_at(server, signer, path, body, now())
}

/// A signed POST signed at `timestamp`.
pub fn signed_at(
    server: &Server,
    signer: &RequestSigner,
    path: &str,
    body: &[u8],
    timestamp: i64,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let headers = signer.headers(&server.origin, "POST", path, body, timestamp);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    call("POST", &server.url(path), &headers, body)
}

/// The `Veilwatch-Refusal` token of an answer.
pub fn refusal(answer: &(u16, Vec<(String, String)>, Vec<u8>)) -> (u16, String) {
    (answer.0, header(&answer.1, "veilwatch-refusal").unwrap_or("").to_owned())
}
