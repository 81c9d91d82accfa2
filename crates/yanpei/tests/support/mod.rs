//! What the tests of the `yanpei` binary share: a fresh directory per test, the binary run
//! there with none of the environment's yanpei settings, and a `hub serve` process that is
//! killed when dropped. Each test binary uses its own part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_yanpei");

/// Environment variables a test never takes from the machine it runs on.
pub(crate) const CLEARED_ENV: [&str; 5] =
    ["RUST_LOG", "YANPEI_HUB", "YANPEI_HUB_DB", "YANPEI_HUB_CONFIG", "YANPEI_NODE_STORE"];

/// An empty directory `yanpei-tests/{suite}-{name}-{pid}` in the system's temporary directory.
pub(crate) fn fresh_dir(suite: &str, name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join("yanpei-tests").join(format!("{suite}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh PostgreSQL database for a test without a runtime of its own: see
/// [`yanpei_test_kit::fresh_postgres`] (`None`, the skip counted and said, where no server answers outside CI).
pub(crate) fn fresh_postgres(prefix: &str) -> Option<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(yanpei_test_kit::fresh_postgres(prefix))
}

/// Where commands run, and the hub database they use (the default SQLite file, or PostgreSQL).
pub(crate) struct Cx {
    pub(crate) dir: PathBuf,
    pub(crate) db: Option<String>,
}

impl Cx {
    /// Commands in `dir` on the default SQLite database.
    pub(crate) fn at(dir: &Path) -> Cx {
        Cx { dir: dir.to_owned(), db: None }
    }

    /// The binary in `dir`, without [`CLEARED_ENV`], with `YANPEI_HUB_DB` set to `db` when given.
    pub(crate) fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(&self.dir);
        for var in CLEARED_ENV {
            c.env_remove(var);
        }
        if let Some(db) = &self.db {
            c.env("YANPEI_HUB_DB", db);
        }
        c
    }

    /// Runs `yanpei ARGS` to its end.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Runs `yanpei ARGS`, which must succeed; what it printed on stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "yanpei {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Runs `yanpei ARGS`, which must succeed and print JSON.
    pub(crate) fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// Runs `yanpei ARGS` with `input` on its stdin.
    pub(crate) fn with_stdin(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }
}

/// Runs `yanpei ARGS` in `dir` (see [`Cx::run`]).
pub(crate) fn run(dir: &Path, args: &[&str]) -> Output {
    Cx::at(dir).run(args)
}

/// Runs `yanpei ARGS` in `dir`, which must succeed (see [`Cx::ok`]).
pub(crate) fn ok(dir: &Path, args: &[&str]) -> String {
    Cx::at(dir).ok(args)
}

/// A hub process, killed when dropped.
pub(crate) struct Hub(pub(crate) Child);

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `hub` (a `yanpei hub serve ... --log-format json` command) with its log on a pipe,
/// waits until it serves gRPC and returns it with that address; its log is drained from then on.
pub(crate) fn start_hub(hub: &mut Command) -> (Hub, SocketAddr) {
    let mut hub = Hub(hub.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap());
    let mut log = BufReader::new(hub.0.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = log.next().expect("the hub exited before serving").unwrap();
        if line.contains("hub serving gRPC") {
            let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
            break entry["fields"]["addr"].as_str().unwrap().parse().unwrap();
        }
    };
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || log.map_while(Result::ok).for_each(drop));
    (hub, addr)
}

/// `yanpei hub serve` in `cx.dir` (its pki/ and roster) from a `hub.toml` written there
/// (any free port of loopback, 1 s shutdown grace); the port it serves gRPC on.
pub(crate) fn serve(cx: &Cx) -> (Hub, u16) {
    std::fs::write(cx.dir.join("hub.toml"), "[hub]\nlisten = \"127.0.0.1:0\"\nshutdown_grace_secs = 1\n")
        .unwrap();
    let (hub, addr) = start_hub(
        cx.command()
            .args(["hub", "serve", "--config", "hub.toml", "--log-format", "json"])
            .env("RUST_LOG", "info"),
    );
    (hub, addr.port())
}
