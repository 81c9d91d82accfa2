//! `yanpei node sync` (and `yanpei query`) against a hub they cannot reach, through the
//! real binary: each says why in Chinese — the name does not resolve, nothing listens
//! there, the hub's certificate is not the county CA's, the hub refuses this side's
//! certificate, the hub's certificate does not carry the name checked — and never with
//! the transport's English.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

mod support;

use std::path::Path;
use std::process::Output;

use support::{Cx, fresh_dir, ok, run, serve};

/// A node store `name` in `dir` set up with `init` (hub, certificate files, …), then one sync.
fn sync_as(dir: &Path, name: &str, init: &[&str]) -> Output {
    let store = format!("{name}.sqlite");
    let mut args = vec!["node", "init", "--store", &store, "--school", "CGZ1"];
    args.extend(init);
    ok(dir, &args);
    run(dir, &["node", "sync", "--store", &store])
}

/// The command failed and said `want` (in Chinese), without the transport's English.
fn says(out: &Output, want: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "expected a failure, got:\n{}", String::from_utf8_lossy(&out.stdout));
    assert!(err.contains(want), "expected 「{want}」 in:\n{err}");
    for english in
        ["transport error", "dns error", "tcp connect error", "invalid peer certificate", "os error"]
    {
        assert!(!err.contains(english), "English leaked ({english}):\n{err}");
    }
    err
}

#[test]
fn node_sync_says_why_it_cannot_reach_the_hub() {
    let dir = fresh_dir("unreachable", "sync");
    ok(&dir, &["ca", "init", "--county", "示范县"]);
    ok(&dir, &["ca", "issue-hub"]);
    ok(&dir, &["ca", "issue-node", "--school", "CGZ1"]);
    ok(&dir, &["ca", "issue-operator"]);
    // Another county's CA, and a node certificate of it for the same school code.
    ok(&dir, &["ca", "init", "--dir", "other", "--county", "邻县"]);
    ok(&dir, &["ca", "issue-node", "--dir", "other", "--school", "CGZ1"]);
    let demo_roster = concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/roster");
    ok(&dir, &["roster", "import", "--db", "sqlite://yanpei-hub.sqlite?mode=rwc", demo_roster]);
    let (_hub, port) = serve(&Cx::at(&dir));
    let url = format!("https://127.0.0.1:{port}");
    let own = ["--ca", "pki/ca.pem", "--cert", "pki/node-CGZ1.pem", "--key", "pki/node-CGZ1.key"];

    // The control: set up right, the same hub answers.
    let good = sync_as(&dir, "good", &[&["--hub", url.as_str()][..], &own].concat());
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));

    // 1. The name does not resolve (.invalid never does).
    let out = sync_as(&dir, "dns", &[&["--hub", "https://no-such-hub.invalid:7443"][..], &own].concat());
    says(&out, "无法解析县中心地址「no-such-hub.invalid」");

    // 2. Nothing listens at the address.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nobody = format!("https://127.0.0.1:{closed}");
    let out = sync_as(&dir, "refused", &[&["--hub", nobody.as_str()][..], &own].concat());
    says(&out, "拒绝连接");

    // 3. TLS refused: the hub's certificate is not of the CA this node trusts…
    let other = ["--ca", "other/ca.pem", "--cert", "other/node-CGZ1.pem", "--key", "other/node-CGZ1.key"];
    let out = sync_as(&dir, "foreign-ca", &[&["--hub", url.as_str()][..], &other].concat());
    says(&out, "不是本县 CA 签发的");
    // …and the hub does not take this node's certificate (another county's CA).
    let mixed = ["--ca", "pki/ca.pem", "--cert", "other/node-CGZ1.pem", "--key", "other/node-CGZ1.key"];
    // Under TLS 1.3 the hub's alert arrives after the handshake, and the connection may close
    // before it is read: either way the person is told the hub does not take this certificate.
    let out = sync_as(&dir, "foreign-cert", &[&["--hub", url.as_str()][..], &mixed].concat());
    says(&out, "不接受本机的证书");

    // 4. The hub's certificate does not carry the name the node checks.
    let named = ["--hub", url.as_str(), "--server-name", "hub.elsewhere.example"];
    let out = sync_as(&dir, "name", &[&named[..], &own].concat());
    says(&out, "证书名称不符");

    // `yanpei query` reads a failed connection the same way.
    let out = run(&dir, &["query", "stats", "--hub", &url, "--server-name", "hub.elsewhere.example"]);
    says(&out, "证书名称不符");
    let out = run(&dir, &["query", "stats", "--hub", &nobody]);
    says(&out, "拒绝连接");
}
