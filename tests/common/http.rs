//! The tests' one HTTP client: plain requests where 4xx/5xx are answers, not errors, and POSTs
//! signed with a kiosk key for an authority's origin, as a kiosk sends them.
#![allow(dead_code)]

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use veilwatch::authority::credential::{AuthorityOrigin, RequestSigner, REFUSAL};

use super::process::Server;

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
        header(&self.headers, name)
    }

    /// The `Veilwatch-Refusal` token, or "" if none.
    pub fn refusal(&self) -> &str {
        self.header(REFUSAL).unwrap_or("")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// (status, headers, body), panicking if nothing answered.
    pub fn into_reply(self) -> Reply {
        assert_ne!(self.status, 0, "no answer: {}", self.text());
        (self.status, self.headers, self.body)
    }
}

/// An answer as (status, headers, body).
pub type Reply = (u16, Vec<(String, String)>, Vec<u8>);

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build()
}

/// A request with the given headers (a GET without a body sends none); 4xx/5xx are answers.
pub fn send(agent: &ureq::Agent, method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut request = agent.request(method, url);
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let response = match if body.is_empty() && method == "GET" { request.call() } else { request.send_bytes(body) } {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Answer { status: 0, headers: Vec::new(), body: format!("{method} {url}: {e}").into_bytes() },
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

/// `send` on a fresh connection, as (status, headers, body); panics if nothing answered.
pub fn call(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    send(&agent(), method, url, headers, body).into_reply()
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The `Veilwatch-Refusal` token of an answer.
pub fn refusal(answer: &Reply) -> (u16, String) {
    (answer.0, header(&answer.1, REFUSAL).unwrap_or("").to_owned())
}

pub fn now() -> i64 {
    veilwatch::time::now_unix()
}

/// `POST base+path` with these credential headers (and `content-type: application/octet-stream`).
pub fn signed_post_with(
    agent: &ureq::Agent,
    base: &str,
    path: &str,
    body: &[u8],
    credential: Vec<(&'static str, String)>,
) -> Answer {
    let mut headers: Vec<(&str, &str)> = credential.iter().map(|(n, v)| (*n, v.as_str())).collect();
    headers.push(("content-type", "application/octet-stream"));
    send(agent, "POST", &format!("{base}{path}"), &headers, body)
}

/// `POST base+path` signed by `signer` at `timestamp` for the authority known as `origin` (a
/// replica reached directly is signed for as its balancer's origin, the one kiosks know).
pub fn signed_post_at(
    agent: &ureq::Agent,
    base: &str,
    origin: &AuthorityOrigin,
    path: &str,
    body: &[u8],
    signer: &RequestSigner,
    timestamp: i64,
) -> Answer {
    signed_post_with(agent, base, path, body, signer.headers(origin, "POST", path, body, timestamp))
}

/// `POST base+path` signed by `signer` for `origin`, now.
pub fn signed_post_for(
    agent: &ureq::Agent,
    base: &str,
    origin: &str,
    path: &str,
    body: &[u8],
    signer: &RequestSigner,
) -> Answer {
    signed_post_at(agent, base, &AuthorityOrigin::of_url(origin).unwrap(), path, body, signer, now())
}

/// `POST base+path` signed by `signer` for `base`'s origin, now.
pub fn signed_post(agent: &ureq::Agent, base: &str, path: &str, body: &[u8], signer: &RequestSigner) -> Answer {
    signed_post_for(agent, base, base, path, body, signer)
}

/// A signed POST of `body` to `path` of `server`, on a fresh connection, signed now for its origin.
pub fn signed(server: &Server, signer: &RequestSigner, path: &str, body: &[u8]) -> Reply {
    signed_at(server, signer, path, body, now())
}

/// A signed POST signed at `timestamp`.
pub fn signed_at(server: &Server, signer: &RequestSigner, path: &str, body: &[u8], timestamp: i64) -> Reply {
    signed_post_at(&agent(), &server.url(""), &server.origin, path, body, signer, timestamp).into_reply()
}

/// `POST /issuer/documents` with a document file; panics unless 204.
pub fn send_document(base: &str, document: &Path) {
    let body = std::fs::read(document).unwrap();
    let answer = send(&agent(), "POST", &format!("{base}/issuer/documents"), &[], &body);
    assert_eq!(answer.status, 204, "registering {}: {}", document.display(), answer.text());
}

/// Waits until `url` answers `GET` with 200 (e.g. haproxy once its health checks found a replica).
pub fn wait_for_200(url: &str, within: Duration) {
    let start = Instant::now();
    let agent = agent();
    while send(&agent, "GET", url, &[], &[]).status != 200 {
        assert!(start.elapsed() < within, "{url} did not answer 200 within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
