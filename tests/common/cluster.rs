//! Real processes on loopback for the tests that attack or scale out the authority
//! (`tests/attacks/`, `tests/authority_replicas.rs`): a `redis-server` in a temporary folder, one or
//! more `veilwatch authority` replicas, `haproxy` in front of them; and what a kiosk (or an
//! attacker holding one) does with them: a deployment enrolled and registered through the CLI,
//! requests signed with a kiosk key.
//!
//! Every process is stopped when its value is dropped (SIGKILL, then reaped), so a failing test
//! leaves nothing running. A missing `redis-server` or `haproxy` is a loud skip, and a failure
//! under `CI=true` (`tools/setup` installs both).
//!
//! Include it with `#[path = "common/cluster.rs"] mod cluster;` (it does not depend on
//! `tests/common/mod.rs`).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use veilwatch::authority::credential::{AuthorityOrigin, RequestSigner, REFUSAL};

/// The `veilwatch` binary under test: `VEILWATCH_BIN` if set (a copy of this checkout's build,
/// which another checkout sharing the cargo target dir cannot overwrite mid-run, as in
/// tests/harness.mjs), else cargo's.
pub fn bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| std::env::var("VEILWATCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_veilwatch").to_owned()))
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The path of an installed program, or `None` after a loud skip notice (a panic under `CI=true`).
pub fn tool_or_skip(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        let message = format!("{name} is not installed (tools/setup installs it) — ");
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{message}CI=true requires it");
        }
        eprintln!("\n!!! SKIPPED: {message}this test did not run !!!\n");
    }
    found
}

/// A child process, killed and reaped on drop; its stderr (and stdout) go to `log`.
pub struct Process {
    pub name: String,
    child: Option<Child>,
    pub log: PathBuf,
}

impl Process {
    pub fn spawn(name: &str, command: &mut Command, log: PathBuf) -> Process {
        let out = std::fs::File::create(&log).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Process { name: name.to_owned(), child: Some(child), log }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL and reap: the process gets no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait (SIGKILL after 10 s): an orderly stop.
    pub fn terminate(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let start = Instant::now();
            while child.try_wait().ok().flatten().is_none() {
                if start.elapsed() > Duration::from_secs(10) {
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Whether it still runs (it did not exit by itself).
    pub fn running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until something accepts connections on `port`, or panics with `log`.
fn wait_for_port(port: u16, what: &str, process: &mut Process) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(process.running(), "{what} exited at start:\n{}", process.log_text());
        assert!(start.elapsed() < Duration::from_secs(30), "{what} did not come up:\n{}", process.log_text());
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A `redis-server` on a free loopback port with its files in `dir`: no RDB snapshots, an
/// append-only file synced on every write, so that a restart in the same folder keeps every
/// budget charged before the stop.
pub struct Redis {
    pub port: u16,
    pub dir: PathBuf,
    process: Option<Process>,
}

impl Redis {
    pub fn start(dir: &Path) -> Option<Redis> {
        tool_or_skip("redis-server")?;
        std::fs::create_dir_all(dir).unwrap();
        let mut redis = Redis { port: free_port(), dir: dir.to_owned(), process: None };
        redis.restart();
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts it (again) on the same port and folder.
    pub fn restart(&mut self) {
        assert!(self.process.is_none(), "redis-server is already running");
        let mut command = Command::new("redis-server");
        command.args([
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--dir",
            self.dir.to_str().unwrap(),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--daemonize",
            "no",
        ]);
        let mut process = Process::spawn("redis-server", &mut command, self.dir.join("redis.log"));
        wait_for_port(self.port, "redis-server", &mut process);
        // Loading the append-only file happens before PING answers PONG.
        let start = Instant::now();
        while self.command(&["PING"]).as_deref() != Some("+PONG") {
            assert!(start.elapsed() < Duration::from_secs(20), "redis-server does not answer PING");
            std::thread::sleep(Duration::from_millis(25));
        }
        self.process = Some(process);
    }

    /// Stops it (SIGTERM: it syncs the append-only file and exits).
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.terminate();
        }
    }

    /// Kills it (SIGKILL: what a crash looks like; every write was already fsynced).
    pub fn crash(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// One command in RESP, its first reply line (`+PONG`, `:42`, `$-1`, …); `None` if unreachable.
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).ok()?;
        let mut answer = Vec::new();
        let mut byte = [0u8; 1];
        while stream.read(&mut byte).ok()? == 1 && byte[0] != b'\n' {
            answer.push(byte[0]);
        }
        Some(String::from_utf8_lossy(&answer).trim_end().to_owned())
    }
}

/// An issuer's deployment, made through the CLI as an issuer makes one: key folder, an
/// authority-custody watchlist with its reviewer materials, and kiosk keys.
pub struct Deployment {
    pub keys: PathBuf,
    pub watchlist: PathBuf,
    pub materials: PathBuf,
    pub issuer_public: PathBuf,
    /// The watchlist id, 32 hex (the deployment id).
    pub id_hex: String,
    pub id: [u8; 16],
    pub tables: usize,
}

/// Runs `veilwatch ARGS`, panicking with its stderr if it fails; its stdout.
pub fn veilwatch(args: &[&str]) -> String {
    let out = Command::new(bin()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "veilwatch {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Budgets of a registration (protocol D/E).
#[derive(Clone, Copy, Debug)]
pub struct Budgets {
    pub faces_per_minute: u64,
    pub faces_per_day: u64,
    pub faces_total: u64,
    pub disclosures_per_hour: u64,
}

impl Deployment {
    /// `veilwatch keygen`, then `veilwatch enroll --custody authority` of the person folders in
    /// `dataset` (one photo each is enough), in `dir`.
    pub fn enrol(dir: &Path, dataset: &Path, per_identity: usize) -> Deployment {
        let keys = dir.join("keys");
        veilwatch(&["keygen", "--out", keys.to_str().unwrap()]);
        let watchlist = dir.join("watchlist.vwl");
        veilwatch(&[
            "enroll",
            dataset.to_str().unwrap(),
            "--keys",
            keys.to_str().unwrap(),
            "--out",
            watchlist.to_str().unwrap(),
            "--custody",
            "authority",
            "--per-identity",
            &per_identity.to_string(),
        ]);
        let bytes = std::fs::read(&watchlist).unwrap();
        let issuer_public = keys.join("public/issuer.pub");
        let issuer = read_public_key(&issuer_public);
        let parsed = veilwatch::blind::format::Watchlist::parse(bytes, &issuer).unwrap();
        let id = parsed.header.watchlist_id;
        let mut materials = watchlist.clone().into_os_string();
        materials.push(".materials.json");
        Deployment {
            keys,
            watchlist,
            materials: PathBuf::from(materials),
            issuer_public,
            id_hex: veilwatch::hex::hex(&id),
            id,
            tables: parsed.header.tables as usize,
        }
    }

    /// A signed registration document for `kiosks` with `budgets`, written to `out`.
    pub fn registration(&self, kiosks: &[&Kiosk], budgets: Budgets, out: &Path) -> PathBuf {
        let mut args: Vec<String> = [
            "registration",
            "deployment",
            "--keys",
            self.keys.to_str().unwrap(),
            "--watchlist",
            self.watchlist.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec();
        if self.materials.exists() {
            args.extend(["--materials".into(), self.materials.to_str().unwrap().into()]);
        }
        for kiosk in kiosks {
            args.extend(["--kiosk-key".into(), kiosk.public_hex.clone()]);
        }
        args.extend([
            "--faces-per-minute".into(),
            budgets.faces_per_minute.to_string(),
            "--faces-per-day".into(),
            budgets.faces_per_day.to_string(),
            "--faces-total".into(),
            budgets.faces_total.to_string(),
            "--disclosures-per-hour".into(),
            budgets.disclosures_per_hour.to_string(),
            "--out".into(),
            out.to_str().unwrap().into(),
        ]);
        veilwatch(&args.iter().map(String::as_str).collect::<Vec<_>>());
        out.to_owned()
    }
}

pub fn read_public_key(path: &Path) -> ed25519_dalek::VerifyingKey {
    let text = std::fs::read_to_string(path).unwrap();
    let bytes: [u8; 32] = veilwatch::hex::from_hex(text.trim()).unwrap().try_into().unwrap();
    ed25519_dalek::VerifyingKey::from_bytes(&bytes).unwrap()
}

/// A kiosk key made with `veilwatch kiosk-key new`, and its signer for one deployment.
pub struct Kiosk {
    pub file: PathBuf,
    pub public_hex: String,
    pub signer: RequestSigner,
}

impl Kiosk {
    pub fn new(dir: &Path, name: &str, deployment: &[u8; 16]) -> Kiosk {
        let file = dir.join(format!("{name}.kiosk.key"));
        let printed = veilwatch(&["kiosk-key", "new", "--out", file.to_str().unwrap()]);
        let secret: [u8; 32] =
            veilwatch::hex::from_hex(std::fs::read_to_string(&file).unwrap().trim()).unwrap().try_into().unwrap();
        let key = SigningKey::from_bytes(&secret);
        let public_hex = veilwatch::hex::hex(key.verifying_key().as_bytes());
        assert_eq!(printed.trim(), public_hex, "kiosk-key new prints the public key");
        Kiosk { file, public_hex, signer: RequestSigner::new(key, deployment) }
    }
}

/// One `veilwatch authority` replica on a free loopback port, its admin listener on another.
pub struct Authority {
    pub port: u16,
    pub admin_port: u16,
    pub process: Process,
}

impl Authority {
    /// `veilwatch authority --keys KEYS/authority --listen 127.0.0.1:PORT --admin-listen
    /// 127.0.0.1:ADMIN EXTRA…` (KEYS: the issuer's folder from keygen), once it accepts connections.
    pub fn start(keys: &Path, extra: &[&str], log_dir: &Path) -> Authority {
        let (port, admin_port) = (free_port(), free_port());
        let mut command = Command::new(bin());
        command
            .args(["authority", "--keys", keys.join("authority").to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--admin-listen", &format!("127.0.0.1:{admin_port}")])
            .args(extra)
            .env("RUST_LOG", "info");
        let mut process =
            Process::spawn("veilwatch authority", &mut command, log_dir.join(format!("authority-{port}.log")));
        wait_for_port(port, "veilwatch authority", &mut process);
        Authority { port, admin_port, process }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The admin listener (`/metrics`, `/issuer/documents`).
    pub fn admin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.admin_port)
    }
}

/// `haproxy` on loopback `port`, round-robin over `backends` with HTTP health checks every
/// 200 ms (`GET /v1/health`), retrying a connection a dead replica refused on the next one.
pub struct Haproxy {
    pub port: u16,
    pub process: Process,
}

impl Haproxy {
    pub fn start(port: u16, backends: &[u16], dir: &Path) -> Option<Haproxy> {
        let haproxy = tool_or_skip("haproxy")?;
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, p)| format!("  server replica{i} 127.0.0.1:{p} check inter 200ms fall 2 rise 2\n"))
            .collect();
        let config = format!(
            "global\n  maxconn 2000\n\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n  \
             timeout server 60s\n  retries 2\n  option redispatch\n  retry-on conn-failure empty-response\n\n\
             frontend authority\n  bind 127.0.0.1:{port}\n  default_backend replicas\n\n\
             backend replicas\n  balance roundrobin\n  option httpchk GET /v1/health\n  http-check expect status 200\n{servers}"
        );
        let path = dir.join(format!("haproxy-{port}.cfg"));
        std::fs::write(&path, config).unwrap();
        let check = Command::new(&haproxy).args(["-c", "-f", path.to_str().unwrap()]).output().unwrap();
        assert!(check.status.success(), "haproxy config: {}", String::from_utf8_lossy(&check.stderr));
        let mut command = Command::new(&haproxy);
        command.args(["-db", "-f", path.to_str().unwrap()]);
        let mut process = Process::spawn("haproxy", &mut command, dir.join(format!("haproxy-{port}.log")));
        wait_for_port(port, "haproxy", &mut process);
        Some(Haproxy { port, process })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// An HTTP answer: status, headers (names lowercase), body. `status` 0: no answer (connection
/// refused, reset or timed out).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `Veilwatch-Refusal` token, or "" if none.
    pub fn refusal(&self) -> &str {
        self.header(REFUSAL).unwrap_or("")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build()
}

/// A request with the given headers; 4xx/5xx are answers, not errors.
pub fn call(agent: &ureq::Agent, method: &str, url: &str, headers: &[(&str, String)], body: &[u8]) -> Answer {
    let mut request = agent.request(method, url);
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let response = match if method == "GET" { request.call() } else { request.send_bytes(body) } {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Answer { status: 0, headers: Vec::new(), body: e.to_string().into_bytes() },
    };
    let status = response.status();
    let headers = response
        .headers_names()
        .iter()
        .map(|n| (n.to_ascii_lowercase(), response.header(n).unwrap_or("").to_owned()))
        .collect();
    let mut body = Vec::new();
    if response.into_reader().take(64 << 20).read_to_end(&mut body).is_err() {
        return Answer { status: 0, headers, body: b"the answer broke off".to_vec() };
    }
    Answer { status, headers, body }
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// `POST base+path` signed by `signer` for `base`'s origin (fresh nonce, now).
pub fn signed_post(agent: &ureq::Agent, base: &str, path: &str, body: &[u8], signer: &RequestSigner) -> Answer {
    signed_post_for(agent, base, base, path, body, signer)
}

/// `POST base+path` signed by `signer` for the authority known as `origin` (a replica reached
/// directly is signed for as its balancer's origin, the one kiosks know).
pub fn signed_post_for(
    agent: &ureq::Agent,
    base: &str,
    origin: &str,
    path: &str,
    body: &[u8],
    signer: &RequestSigner,
) -> Answer {
    let headers = signer.headers(&AuthorityOrigin::of_url(origin).unwrap(), "POST", path, body, now_unix());
    signed_post_with(agent, base, path, body, headers)
}

/// `POST base+path` with these credential headers.
pub fn signed_post_with(
    agent: &ureq::Agent,
    base: &str,
    path: &str,
    body: &[u8],
    credential: Vec<(&'static str, String)>,
) -> Answer {
    let mut headers: Vec<(&str, String)> = credential;
    headers.push(("content-type", "application/octet-stream".into()));
    call(agent, "POST", &format!("{base}{path}"), &headers, body)
}

/// `POST /issuer/documents` with a document file; panics unless 204.
pub fn send_document(base: &str, document: &Path) {
    let body = std::fs::read(document).unwrap();
    let answer = call(&agent(), "POST", &format!("{base}/issuer/documents"), &[], &body);
    assert_eq!(answer.status, 204, "registering {}: {}", document.display(), answer.text());
}

/// Waits until `url` answers `GET` with 200 (e.g. haproxy once its health checks found a replica).
pub fn wait_for_200(url: &str, within: Duration) {
    let start = Instant::now();
    let agent = agent();
    while call(&agent, "GET", url, &[], &[]).status != 200 {
        assert!(start.elapsed() < within, "{url} did not answer 200 within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A local socket address string.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `n` people of `$VEILWATCH_DATA/lfw/images` (the first in name order with at least one photo),
/// linked into `dir` as an enrolment dataset; `None` (loud skip, CI failure) without the data.
pub fn lfw_people(dir: &Path, n: usize) -> Option<PathBuf> {
    let data = std::env::var_os("VEILWATCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let images = data.join("lfw/images");
    let models = std::env::var_os("VEILWATCH_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"));
    for (what, path) in [("LFW data (set VEILWATCH_DATA)", &images), ("model files (run models/fetch)", &models)] {
        if !path.exists() || std::fs::read_dir(path).map(|mut d| d.next().is_none()).unwrap_or(true) {
            let message = format!("{what} not found at {} — ", path.display());
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{message}CI=true requires it");
            }
            eprintln!("\n!!! SKIPPED: {message}this test did not run !!!\n");
            return None;
        }
    }
    let mut people: Vec<PathBuf> = std::fs::read_dir(&images).unwrap().map(|e| e.unwrap().path()).collect();
    people.sort();
    let dataset = dir.join("dataset");
    std::fs::create_dir_all(&dataset).unwrap();
    for person in people.into_iter().take(n) {
        std::os::unix::fs::symlink(&person, dataset.join(person.file_name().unwrap())).unwrap();
    }
    Some(dataset)
}
