//! Real processes on loopback for the tests: the `veilwatch` binary under test, a child process
//! that is killed and reaped when dropped (so a failing test leaves nothing running), and a
//! `veilwatch authority` or `veilwatch serve` started on free loopback ports, once it accepts
//! connections.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use veilwatch::authority::credential::AuthorityOrigin;

/// The `veilwatch` binary under test: `VEILWATCH_BIN` if set (a copy of this checkout's build,
/// which another checkout sharing the cargo target dir cannot overwrite mid-run, as in
/// tests/harness.mjs), else cargo's.
pub fn bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| std::env::var("VEILWATCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_veilwatch").to_owned()))
}

/// Runs `veilwatch ARGS`, panicking with its output if it fails; its stdout.
pub fn veilwatch(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "veilwatch {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `veilwatch ARGS` to its end: what it printed and how it exited (for a test that expects
/// it to fail, or reads its stderr).
pub fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("veilwatch runs")
}

/// The stdout of a run that must have succeeded (else a panic with its stderr).
pub fn succeeded(output: Output) -> String {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// The stderr of a run that must have failed (else a panic with its stdout).
pub fn failed(output: Output) -> String {
    assert!(!output.status.success(), "succeeded: {}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8(output.stderr).unwrap()
}

/// A fresh scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("veilwatch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A loopback port nobody listens on right now, and never handed out before in this test process.
/// The port is released before the caller's child binds it, so two tests running side by side could
/// otherwise be given the same port (the kernel may hand a released port out again): one child then
/// fails to bind while its test talks to the other test's server (a Redis that the other test stops
/// gives "connection refused" in the middle of a test).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A local socket address.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
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

/// Where a child's stdout goes (its stderr always goes to its log).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stdout {
    Log,
    Discard,
}

/// A child process, killed and reaped on drop; its stderr (and stdout, unless discarded) go to `log`.
pub struct Process {
    pub name: String,
    child: Option<Child>,
    pub log: PathBuf,
}

impl Process {
    pub fn spawn(name: &str, command: &mut Command, log: PathBuf) -> Process {
        Process::spawn_with(name, command, log, Stdout::Log)
    }

    pub fn spawn_with(name: &str, command: &mut Command, log: PathBuf, stdout: Stdout) -> Process {
        let out = std::fs::File::create(&log).unwrap();
        let stdout = match stdout {
            Stdout::Log => Stdio::from(out.try_clone().unwrap()),
            Stdout::Discard => Stdio::null(),
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout)
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

    /// SIGKILL and reap: the process gets no chance to finish anything. Its exit status, if it
    /// was still owned.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = child.kill();
        child.wait().ok()
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

    /// Waits until something accepts connections on `port`; panics with the log if the process
    /// exits first or nothing listens within `within`.
    pub fn wait_for_port(&mut self, port: u16, within: Duration) {
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(self.running(), "{} exited at start:\n{}", self.name, self.log_text());
            assert!(start.elapsed() < within, "{} did not come up:\n{}", self.name, self.log_text());
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `veilwatch authority` or `veilwatch serve` on a loopback port.
pub struct Server {
    pub process: Process,
    pub addr: SocketAddr,
    /// The origin requests to it are signed for: its first `--public-origin`, else its listen
    /// address (`https://` with `--tls-cert`), as the authority defaults.
    pub origin: AuthorityOrigin,
    /// An authority's admin listener (`/metrics`, `/issuer/documents`).
    pub admin: Option<SocketAddr>,
}

impl Server {
    /// `veilwatch ARGS --listen 127.0.0.1:PORT` (and for `authority`, `--admin-listen` on another
    /// free port unless ARGS name one), once it accepts connections; its stderr goes to a log in
    /// `scratch`.
    pub fn start(args: &[&str], scratch: &Path) -> Server {
        Server::start_with(args, scratch, Stdout::Discard, Duration::from_secs(20))
    }

    /// As `start`, with the child's stdout in the log too (`RUST_LOG=info`) and 30 s to come up:
    /// the replicas of `tests/common/cluster.rs`.
    pub fn start_logged(args: &[&str], scratch: &Path) -> Server {
        Server::start_with(args, scratch, Stdout::Log, Duration::from_secs(30))
    }

    fn start_with(args: &[&str], scratch: &Path, stdout: Stdout, within: Duration) -> Server {
        let addr = loopback(free_port());
        let mut command = Command::new(bin());
        command.args(args).args(["--listen", &addr.to_string()]);
        let admin =
            (args.first() == Some(&"authority") && !args.contains(&"--admin-listen")).then(|| loopback(free_port()));
        if let Some(admin) = admin {
            command.args(["--admin-listen", &admin.to_string()]);
        }
        if stdout == Stdout::Log {
            command.env("RUST_LOG", "info");
        }
        let public = args.iter().position(|a| *a == "--public-origin").map(|i| args[i + 1].to_owned());
        let scheme = if args.contains(&"--tls-cert") { "https" } else { "http" };
        let origin = AuthorityOrigin::of_url(&public.unwrap_or_else(|| format!("{scheme}://{addr}"))).unwrap();
        let name = format!("veilwatch {}", args.first().unwrap_or(&""));
        let log = scratch.join(format!("{}-{}.log", args.first().unwrap_or(&"server"), addr.port()));
        let mut process = Process::spawn_with(&name, &mut command, log, stdout);
        process.wait_for_port(addr.port(), within);
        Server { process, addr, origin, admin }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://ADDR` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A URL on the authority's admin listener.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin.expect("an authority started with its own admin listener"))
    }

    pub fn log_text(&self) -> String {
        self.process.log_text()
    }

    /// (VmRSS in KiB, Threads) of the server process, from /proc/PID/status.
    pub fn rss_and_threads(&self) -> (u64, u64) {
        let pid = self.process.pid().expect("the server runs");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |name: &str| -> u64 {
            let line = status.lines().find(|l| l.starts_with(name)).unwrap();
            line[name.len()..].trim().trim_end_matches(" kB").trim().parse().unwrap()
        };
        (field("VmRSS:"), field("Threads:"))
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
