//! The README's "Running a real hub and a real node", run line by line as a newcomer types it,
//! in fresh directories: the county's (CA, hub config, hub, roster), a school that enrolls with a
//! one-time code (CGZ1) and a school on the offline path (HKX1). Every command comes from the
//! README itself, so a line that stops working, or a README that drifts from the binary, fails
//! here. Once on SQLite as written and once with the config's database on PostgreSQL.
//!
//! What the runner changes, and only this:
//! - `hub.example.edu.cn` becomes `localhost` (the README says the name must resolve; this
//!   machine resolves only its own), and port 7443 a free port, `0.0.0.0` becomes `127.0.0.1`;
//! - the enrollment code and fingerprint on the slip are the ones `ca enroll` printed;
//! - on PostgreSQL, the config's SQLite URL is a fresh test database;
//! - a long-running command (`hub serve`, `node run`) is started in the background and checked
//!   to be serving; `node record -i` is answered at its prompts.
//!
//! Where a command runs follows the README's own words: "At the county" lines run in the
//! county's directory, "At the school (CODE)" lines in that school's, and files the README says
//! were "copied" into a school's directory are copied there from the county's `pki/`.
#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{BIN, CLEARED_ENV, fresh_postgres};

const README: &str = include_str!("../../../README.md");

#[test]
fn the_readme_path_runs_as_written_on_sqlite() {
    let out = run_readme("sqlite", None);
    check_outcome(&out);
}

#[test]
fn the_readme_path_runs_as_written_on_postgres() {
    if let Some(url) = fresh_postgres("readme_path") {
        let out = run_readme("postgres", Some(url));
        check_outcome(&out);
    }
}

/// What the section's commands printed, in order, for the checks at the end.
type Outputs = Vec<(String, String)>;

fn check_outcome(out: &Outputs) {
    let printed = |needle: &str| {
        out.iter()
            .find(|(line, _)| line.contains(needle))
            .map(|(_, printed)| printed.clone())
            .unwrap_or_else(|| panic!("the README no longer runs `{needle}`"))
    };
    // The template validates as written and imports as the roster the hub then uses.
    assert!(printed("roster validate").contains("名册无误"), "{}", printed("roster validate"));
    // Both schools' nodes synced with the hub; the county's query counts what CGZ1 recorded.
    let stats: serde_json::Value =
        serde_json::from_str(&printed("query stats --school CGZ1 --json")).unwrap();
    let total = stats["total"].as_u64().or_else(|| stats["activities"].as_u64());
    assert_eq!(total, Some(3), "three records made at CGZ1 (two by flags, one guided): {stats:#}");
    let by_alliance = printed("--by alliance");
    assert!(by_alliance.contains("城关区域联合体"), "{by_alliance}");
    assert!(printed("node roster").contains("城关镇中心学校"), "{}", printed("node roster"));
}

/// Where a README line runs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    County,
    School(String),
}

struct Runner {
    root: PathBuf,
    port: u16,
    postgres: Option<String>,
    place: Place,
    env: BTreeMap<Place, Vec<(String, String)>>,
    /// The slip's code and fingerprint, once `ca enroll` printed them.
    slip: Option<(String, String)>,
    daemons: Vec<Child>,
    outputs: Outputs,
}

impl Drop for Runner {
    fn drop(&mut self) {
        for d in &mut self.daemons {
            let _ = d.kill();
            let _ = d.wait();
        }
    }
}

fn run_readme(name: &str, postgres: Option<String>) -> Outputs {
    let root =
        std::env::temp_dir().join("yanpei-tests").join(format!("readme-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("county")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut r = Runner {
        root,
        port,
        postgres,
        place: Place::County,
        env: BTreeMap::new(),
        slip: None,
        daemons: Vec::new(),
        outputs: Vec::new(),
    };
    let lines = section_lines();
    assert!(lines.iter().filter(|l| matches!(l, Line::Command(_))).count() > 30, "{lines:#?}");
    for line in lines {
        match line {
            Line::Prose(text) => r.notice(&text),
            Line::Command(cmd) => r.run(&cmd),
        }
    }
    std::mem::take(&mut r.outputs)
}

#[derive(Debug)]
enum Line {
    /// A sentence or a comment: it may say where the next commands run.
    Prose(String),
    /// One command: continuation lines joined, a here-document whole.
    Command(String),
}

/// The section's prose and commands, in order.
fn section_lines() -> Vec<Line> {
    let start = README.find("## Running a real hub and a real node").expect("the README has the section");
    let rest = &README[start..];
    let end = rest[3..].find("\n### ").map_or(rest.len(), |i| i + 3);
    let mut out = Vec::new();
    let mut in_code = false;
    let mut lines = rest[..end].lines();
    while let Some(line) = lines.next() {
        if line.starts_with("```") {
            in_code = line.trim() == "```sh";
            continue;
        }
        if !in_code {
            out.push(Line::Prose(line.to_owned()));
            continue;
        }
        if line.trim_start().starts_with('#') {
            out.push(Line::Prose(line.to_owned()));
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let mut cmd = strip_comment(line);
        while cmd.ends_with('\\') {
            cmd.pop();
            cmd.push(' ');
            cmd.push_str(strip_comment(lines.next().unwrap()).trim_start());
        }
        if cmd.contains("<<'EOF'") {
            // A here-document runs whole, comments and all.
            let mut doc = line.to_owned();
            for l in lines.by_ref() {
                doc.push('\n');
                doc.push_str(l);
                if l == "EOF" {
                    break;
                }
            }
            cmd = doc;
        }
        out.push(Line::Command(cmd.trim().to_owned()));
    }
    out
}

/// A command without its trailing `  # ...` comment.
fn strip_comment(line: &str) -> String {
    match line.find("  #").or_else(|| line.find(" # ")) {
        Some(i) => line[..i].trim_end().to_owned(),
        None => line.trim_end().to_owned(),
    }
}

impl Runner {
    fn dir(&self) -> PathBuf {
        match &self.place {
            Place::County => self.root.join("county"),
            Place::School(code) => self.root.join(format!("school-{code}")),
        }
    }

    /// Prose and comments that say where the next commands run, and what was copied there.
    fn notice(&mut self, text: &str) {
        let lower = text.to_lowercase();
        if lower.contains("at the county") || lower.contains("the county asks") {
            self.place = Place::County;
        } else if let Some(i) = lower.find("at the school (") {
            let code: String =
                text[i + "at the school (".len()..].chars().take_while(|c| *c != ')').collect();
            self.place = Place::School(code);
            std::fs::create_dir_all(self.dir()).unwrap();
            if lower.contains("copied") {
                for file in text.split([' ', ',']).filter(|w| w.ends_with(".pem") || w.ends_with(".key")) {
                    let from = self.root.join("county/pki").join(file);
                    std::fs::copy(&from, self.dir().join(file))
                        .unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
                }
            }
        }
    }

    /// The line as this machine runs it (see the module's list of changes).
    fn substitute(&self, cmd: &str) -> String {
        let mut c = cmd
            .replace("hub.example.edu.cn", "localhost")
            .replace("0.0.0.0:7443", &format!("127.0.0.1:{}", self.port))
            .replace(":7443", &format!(":{}", self.port));
        if let Some((code, fingerprint)) = &self.slip {
            c = c.replace("K7QM-3XPD", code).replace("9f3a41c2...", fingerprint);
        }
        if let Some(url) = &self.postgres {
            c = c.replace("sqlite://yanpei-hub.sqlite?mode=rwc", url);
        }
        c
    }

    fn command(&self, shell_line: &str) -> Command {
        let bin_dir = Path::new(BIN).parent().unwrap();
        let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
        let mut c = Command::new("bash");
        c.arg("-c").arg(shell_line).current_dir(self.dir()).env("PATH", path);
        for var in CLEARED_ENV {
            c.env_remove(var);
        }
        for (k, v) in self.env.get(&self.place).into_iter().flatten() {
            c.env(k, v);
        }
        c
    }

    fn run(&mut self, cmd: &str) {
        let line = self.substitute(cmd);
        if let Some(assignment) = line.strip_prefix("export ") {
            let (k, v) = assignment.split_once('=').unwrap();
            self.env.entry(self.place.clone()).or_default().push((k.to_owned(), v.to_owned()));
            return;
        }
        if line.starts_with("yanpei hub serve") {
            return self.start_hub(&line);
        }
        if line.starts_with("yanpei node run") {
            return self.start_node_daemon(&line);
        }
        let printed = if line.contains(" -i") { self.guided(&line) } else { self.plain(&line) };
        if line.starts_with("yanpei ca enroll") {
            self.slip = Some(slip_of(&printed));
        }
        self.outputs.push((line, printed));
    }

    fn plain(&self, line: &str) -> String {
        let out = self.command(line).stdin(Stdio::null()).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "README line failed in {:?}: `{line}`\n{stdout}\n{}",
            self.place,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// `hub serve`: in the background, until it says it serves.
    fn start_hub(&mut self, line: &str) {
        let mut child = self
            .command(&format!("exec {line}"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut log = BufReader::new(child.stderr.take().unwrap()).lines();
        self.daemons.push(child);
        let mut seen = Vec::new();
        loop {
            let Some(Ok(l)) = log.next() else {
                panic!("`{line}` exited before serving:\n{}", seen.join("\n"));
            };
            let serving = l.contains("hub serving gRPC");
            seen.push(l);
            if serving {
                break;
            }
        }
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || log.map_while(Result::ok).for_each(drop));
    }

    /// `node run`: the daemon starts, says when it will sync, and is stopped.
    fn start_node_daemon(&mut self, line: &str) {
        let mut child = self
            .command(&format!("exec {line}"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
                seen.push(l);
                if seen.last().is_some_and(|l| l.contains("next_sync")) {
                    break;
                }
            }
            assert!(child.try_wait().unwrap().is_none(), "`{line}` exited:\n{}", seen.join("\n"));
        }
        assert!(
            seen.iter().any(|l| l.contains("next_sync")),
            "`{line}` never scheduled a sync:\n{}",
            seen.join("\n")
        );
        let _ = child.kill();
        let _ = child.wait();
        self.outputs.push((line.to_owned(), seen.join("\n")));
    }

    /// `node record -i`: answers each prompt as a clerk would (a lecture by 张伟).
    fn guided(&self, line: &str) -> String {
        // A prompt this test does not know would wait forever: the shell ends it after a minute.
        let mut child = self
            .command(&format!("timeout 60 {line}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        let mut prompts = 0;
        // Where the text after the last answer starts (the answers are not echoed).
        let mut answered = 0;
        while stdout.read(&mut byte).unwrap() == 1 {
            seen.push(byte[0]);
            // Every prompt ends with a full-width colon and waits for a line.
            if !seen.ends_with("：".as_bytes()) {
                continue;
            }
            let text = String::from_utf8_lossy(&seen[answered..]).into_owned();
            let prompt = text.rsplit('\n').next().unwrap_or_default().to_owned();
            // The menu's lines hold colons too; a prompt is a line the program waits on.
            let waits = prompt == "活动类型："
                || prompt.starts_with("日期（")
                || prompt.ends_with("（必填）：")
                || prompt.ends_with("（可不填，回车跳过）：");
            if !waits {
                continue;
            }
            prompts += 1;
            assert!(prompts < 40, "the guided record keeps asking:\n{text}");
            writeln!(stdin, "{}", answer(&prompt)).unwrap();
            answered = seen.len();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&seen).into_owned();
        assert!(
            out.status.success(),
            "README line failed: `{line}`\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains("  ×"), "an answer was refused:\n{text}");
        text
    }
}

/// A clerk's answer to one prompt of the guided record.
fn answer(prompt: &str) -> &'static str {
    let required = prompt.contains("必填");
    match prompt {
        p if p.starts_with("活动类型") => "讲座",
        p if p.starts_with("日期") => "2024-11-21",
        p if p.contains("课题") || p.contains("主题") => "新课标下的作业设计",
        p if p.contains("分钟") => "90",
        p if p.contains("人数") || p.contains("应到") || p.contains("实到") => "30",
        p if p.contains("学科") => "语文",
        _ if required => "张伟",
        _ => "",
    }
}

/// The code and fingerprint on the slip `ca enroll` printed.
fn slip_of(printed: &str) -> (String, String) {
    let after = |label: &str| {
        let i =
            printed.find(label).unwrap_or_else(|| panic!("no {label} on the slip:\n{printed}")) + label.len();
        printed[i..].to_owned()
    };
    let code: String =
        after("注册码：").chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    let fingerprint: String = after("（SHA-256）：")
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == ' ' || *c == ':')
        .filter(char::is_ascii_hexdigit)
        .collect();
    assert!(!code.is_empty() && fingerprint.len() == 64, "slip: {printed}");
    (code, fingerprint)
}
