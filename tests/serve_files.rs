//! `veilwatch serve` as an attacker on the kiosk's network would try it: it serves the mounted
//! files with the kiosk's Content-Security-Policy and security headers, and refuses dotfiles,
//! `..` (plain or percent-encoded) and symlinks that lead out of the mount, while a symlink that
//! stays inside is served.

mod common;

use std::os::unix::fs::symlink;
use std::time::Duration;

use common::http::{call, header};
use common::process::{raw, scratch, Server};

#[test]
fn serve_keeps_to_its_mounts_and_sends_the_kiosk_headers() {
    let scratch = scratch("serve");
    let (www, pkg, outside) = (scratch.join("www"), scratch.join("pkg"), scratch.join("outside"));
    for dir in [&www, &pkg, &outside, &www.join(".git")] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(www.join("index.html"), "<!doctype html><title>kiosk</title>").unwrap();
    std::fs::write(www.join("app.js"), "export const kiosk = 1;").unwrap();
    std::fs::write(www.join(".env"), "SECRET=1").unwrap();
    std::fs::write(www.join(".git/config"), "[core]").unwrap();
    std::fs::write(pkg.join("engine.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(outside.join("secret.txt"), "outside the mount").unwrap();
    symlink(outside.join("secret.txt"), www.join("leak.txt")).unwrap();
    symlink(&outside, www.join("leakdir")).unwrap();
    symlink(www.join("app.js"), www.join("alias.js")).unwrap();

    let authority = "http://127.0.0.1:8787";
    let server = Server::start(
        &[
            "serve",
            "--mount",
            &format!("/={}", www.display()),
            "--mount",
            &format!("/pkg={}", pkg.display()),
            "--authority",
            authority,
        ],
        &scratch,
    );
    let get = |path: &str| call("GET", &server.url(path), &[], &[]);

    let (status, headers, body) = get("/");
    assert_eq!((status, String::from_utf8_lossy(&body).as_ref()), (200, "<!doctype html><title>kiosk</title>"));
    assert_eq!(header(&headers, "content-type"), Some("text/html; charset=utf-8"));
    let csp = header(&headers, "content-security-policy").expect("CSP");
    assert!(csp.contains(&format!("connect-src 'self' {authority}")), "{csp}");
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&headers, "cross-origin-embedder-policy"), Some("require-corp"));
    assert_eq!(header(&headers, "cross-origin-opener-policy"), Some("same-origin"));
    assert_eq!(header(&headers, "referrer-policy"), Some("no-referrer"));
    assert_eq!(header(&headers, "access-control-allow-origin"), None);
    let (status, headers, _) = get("/pkg/engine.wasm");
    assert_eq!((status, header(&headers, "content-type")), (200, Some("application/wasm")));
    let (status, headers, _) = get("/app.js");
    assert_eq!((status, header(&headers, "content-type")), (200, Some("text/javascript; charset=utf-8")));
    assert_eq!(get("/alias.js").0, 200, "a symlink that stays inside the mount is served");

    for path in ["/.env", "/.git/config", "/%2eenv", "/leak.txt", "/leakdir/secret.txt", "/nothing.js", "/pkg/../.env"]
    {
        let (status, headers, body) = get(path);
        assert_eq!(status, 404, "{path}: {}", String::from_utf8_lossy(&body));
        assert!(header(&headers, "content-security-policy").is_some(), "{path}: a refusal carries the CSP too");
        assert!(
            !String::from_utf8_lossy(&body).contains("outside the mount")
                && !String::from_utf8_lossy(&body).contains("SECRET")
        );
    }
    // Traversal the client would normalise away, sent byte for byte.
    for target in [
        "/../outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
        "/pkg/%2e%2e/%2e%2e/outside/secret.txt",
        "/..%2foutside%2fsecret.txt",
    ] {
        let answer = raw(
            server.addr,
            format!("GET {target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").as_bytes(),
            Duration::from_secs(5),
        );
        assert!(!answer.contains("outside the mount"), "{target}: {answer}");
        assert!(answer.starts_with("HTTP/1.1 404") || answer.starts_with("HTTP/1.1 400"), "{target}: {answer}");
    }
    let (status, _, body) = call("POST", &server.url("/app.js"), &[], b"x");
    assert_eq!(status, 405, "{}", String::from_utf8_lossy(&body));
    // HEAD: the headers without the body.
    let head =
        raw(server.addr, b"HEAD /app.js HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", Duration::from_secs(5));
    assert!(head.starts_with("HTTP/1.1 200") && !head.contains("export const"), "{head}");
    // One log line per request, with the path and never the query string.
    let _ = get("/app.js?token=s3cr3t");
    let log = server.log_text();
    assert!(log.contains("path=/app.js") && !log.contains("s3cr3t"), "{log}");
    std::fs::remove_dir_all(&scratch).ok();
}

/// `--frame-ancestors` lets the named portals (and only them) frame the kiosk for
/// `<veilwatch-kiosk mode="isolated">`; anything that is not a plain http(s) origin, such as an
/// attempt to smuggle another CSP directive or a wildcard in, is refused before serving.
#[test]
fn serve_lets_only_the_named_portals_frame_the_kiosk() {
    let scratch = scratch("serve-frame-ancestors");
    let www = scratch.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "<!doctype html><title>kiosk</title>").unwrap();
    let mount = format!("/={}", www.display());
    let server = Server::start(
        &["serve", "--frame-ancestors", "http://127.0.0.1:8081", "https://portal.example/", "--mount", &mount],
        &scratch,
    );
    let (status, headers, _) = call("GET", &server.url("/"), &[], &[]);
    assert_eq!(status, 200);
    let csp = header(&headers, "content-security-policy").expect("CSP");
    assert!(csp.contains("frame-ancestors http://127.0.0.1:8081 https://portal.example"), "{csp}");
    assert!(!csp.contains("frame-ancestors 'none'") && csp.contains("connect-src 'self';"), "{csp}");
    drop(server);

    for bad in ["https://portal.example; script-src *", "portal.example", "https://*", "'self'"] {
        let output = std::process::Command::new(common::process::bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--frame-ancestors", bad, "--mount", &mount])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{bad} was accepted");
        assert!(String::from_utf8_lossy(&output.stderr).contains("is not an http(s) origin"), "{bad}");
    }
    std::fs::remove_dir_all(&scratch).ok();
}
