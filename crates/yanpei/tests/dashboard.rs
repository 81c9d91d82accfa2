//! The dashboard in a real browser: `yanpei demo --serve` (the real binary) leaves the
//! demo hub running; headless Chromium (Debian's `chromium` and `chromedriver`) signs
//! in as the operator, checks the overview's totals against the gRPC API's
//! (`yanpei query stats` over mutual TLS), downloads a table as .xlsx and checks it
//! holds the page's numbers, opens every page, then signs in as a 教研员 and checks an
//! unassigned school is neither listed nor reachable by URL. Every request the
//! browser made must have gone to the hub. On the way it checks the session and the
//! transport: HSTS and gzip on the wire, another site's `text/plain` forms to
//! `/api/login` and `/api/logout` refused, the signed-out screen empty, and the old
//! cookie replayed after 退出 refused (401). Then, as the operator, a 教研员 and a
//! principal, it answers each role's morning questions by clicking (`dash_roles`) and
//! checks every answer against the gRPC reports; and it opens every page of every role
//! on a desktop and a phone (`dash_layout`), saving screenshots under
//! `target/tmp/dashboard-screenshots/` (or `$YANPEI_ARTIFACTS`), with no codes on screen
//! and nothing wider than the phone's screen outside a table's scrolling box.
//!
//! Without Chromium the test says so loudly and passes; under CI (`CI` set) it
//! fails instead: `.ci/run` installs Debian's chromium and chromium-driver.

#[path = "support/dash_layout.rs"]
mod dash_layout;
#[path = "support/dash_roles.rs"]
mod dash_roles;
#[path = "support/webdriver.rs"]
mod webdriver;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use calamine::{Data, Reader, Xlsx};
use serde_json::{Value, json};
use webdriver::Browser;

const BIN: &str = env!("CARGO_BIN_EXE_yanpei");
/// The demo county's semester (crates/demo: DEMO_SEMESTER).
pub(crate) const SEMESTER: &str = "2024-2025-1";

pub(crate) struct Demo {
    child: Child,
    dir: PathBuf,
    dashboard: String,
    hub: String,
    logins: BTreeMap<String, (String, String)>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tool(env: &str, default: &str) -> Option<String> {
    let path = std::env::var(env).unwrap_or_else(|_| default.to_owned());
    Path::new(&path).exists().then_some(path)
}

/// Starts `yanpei demo --serve` and reads what it prints: the addresses and the logins.
fn start_demo() -> Demo {
    let dir = std::env::temp_dir().join(format!("yanpei-dashboard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(BIN)
        .args(["demo", "--serve", "--dir"])
        .arg(&dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start yanpei demo --serve");
    let stdout = child.stdout.take().expect("demo stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut demo = Demo { child, dir, dashboard: String::new(), hub: String::new(), logins: BTreeMap::new() };
    loop {
        let line =
            rx.recv_timeout(Duration::from_secs(600)).expect("demo --serve printed its logins in time");
        let line = line.trim();
        if let Some(url) = line.strip_prefix("看板：") {
            demo.dashboard = url.trim().to_owned();
        } else if let Some(rest) = line.strip_prefix("中心：") {
            demo.hub = rest.split_whitespace().next().unwrap_or_default().to_owned();
        } else if let Some(rest) = line.strip_prefix("登录 ") {
            // 登录 ROLE USER 密码 PASSWORD ...
            let parts: Vec<&str> = rest.split_whitespace().collect();
            if let [role, user, "密码", password, ..] = parts[..] {
                demo.logins.insert(role.to_owned(), (user.to_owned(), password.to_owned()));
            }
        } else if line.starts_with("按 Ctrl-C") {
            break;
        }
    }
    assert!(demo.dashboard.starts_with("https://127.0.0.1:"), "dashboard address: {:?}", demo.dashboard);
    assert!(demo.hub.starts_with("https://127.0.0.1:"), "hub address: {:?}", demo.hub);
    for role in ["管理员", "教研员", "校长"] {
        assert!(demo.logins.contains_key(role), "demo printed a {role} login: {:?}", demo.logins);
    }
    std::thread::spawn(move || for _ in rx {});
    demo
}

fn artifacts() -> PathBuf {
    let dir = std::env::var_os("YANPEI_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots"));
    std::fs::create_dir_all(&dir).expect("artifact directory");
    dir
}

pub(crate) fn save(browser: &Browser, name: &str) {
    let png = browser.screenshot().expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let path = artifacts().join(format!("{name}.png"));
    std::fs::write(&path, png).expect("write screenshot");
    eprintln!("screenshot: {}", path.display());
}

/// Signs in as `role`; waits for the first page (the overview, or a 教研员's or principal's own).
fn login(b: &Browser, demo: &Demo, role: &str) {
    let (user, password) = &demo.logins[role];
    b.goto(&demo.dashboard).expect("open the dashboard");
    b.wait_for("the login form", "return !document.getElementById('login').hidden").expect("login form");
    b.type_into("#username", user).expect("type user");
    b.type_into("#password", password).expect("type password");
    b.click("#login-button").expect("click login");
    wait_page(b, if role == "管理员" { "overview" } else { "mine" });
}

/// `yanpei ARGS --hub HUB` over mutual TLS as the county operator (the demo's
/// certificate), in the demo's directory: its JSON output.
pub(crate) fn cli(demo: &Demo, args: &[&str]) -> Value {
    let (command, rest) = args.split_at(2);
    let out = Command::new(BIN)
        .current_dir(&demo.dir)
        .args(command)
        .args(["--hub", &demo.hub])
        .args(rest)
        .output()
        .expect("run yanpei");
    assert!(out.status.success(), "yanpei {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("yanpei {args:?}: JSON: {e}"))
}

/// Waits until page `page` has been drawn (or refused) and returns its title.
fn wait_page(b: &Browser, page: &str) -> String {
    let script = format!(
        "const p = document.getElementById('page'); \
         if (p.hidden || p.dataset.page !== '{page}') return null; \
         const t = document.getElementById('title').textContent; \
         const ready = document.querySelectorAll('#cards .card, #tables table').length > 0 \
                       || !document.getElementById('error').hidden; \
         return ready ? t : null;"
    );
    b.wait_for(&format!("page {page}"), &script).expect("page drawn").as_str().unwrap_or_default().to_owned()
}

pub(crate) fn card(b: &Browser, id: &str) -> String {
    b.js(
        &format!(
            "const c = document.querySelector('#cards [data-id=\"{id}\"] .value'); return c && c.textContent;"
        ),
        json!([]),
    )
    .expect("read card")
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// The page's table `i` as text cells, header row first.
fn table(b: &Browser, i: usize) -> Vec<Vec<String>> {
    let v = b
        .js(
            "const t = document.getElementById('table-' + arguments[0]); if (!t) return null; \
             return Array.from(t.rows).map(r => Array.from(r.cells).map(c => c.textContent));",
            json!([i]),
        )
        .expect("read table");
    serde_json::from_value(v).expect("table rows")
}

/// Fetches `url` inside the page (with its session cookie): status and body bytes.
fn fetch(b: &Browser, url: &str) -> (u16, Vec<u8>) {
    use base64::Engine as _;
    let v = b
        .js_async(
            "const done = arguments[arguments.length - 1]; \
             fetch(arguments[0], {credentials: 'same-origin'}).then(async r => { \
               const buf = new Uint8Array(await r.arrayBuffer()); let s = ''; \
               for (let i = 0; i < buf.length; i += 8192) s += String.fromCharCode.apply(null, buf.subarray(i, i + 8192)); \
               done([r.status, btoa(s)]); }).catch(e => done([0, '']));",
            json!([url]),
        )
        .expect("fetch in page");
    let status = v[0].as_u64().unwrap_or(0) as u16;
    let body = base64::engine::general_purpose::STANDARD.decode(v[1].as_str().unwrap_or("")).expect("base64");
    (status, body)
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
        Data::Float(f) => format!("{f}"),
        Data::Int(i) => i.to_string(),
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// The API's county totals by kind code, from `yanpei query stats` over mutual TLS as the operator.
fn api_totals(demo: &Demo) -> (u64, BTreeMap<String, u64>) {
    let out = Command::new(BIN)
        .current_dir(&demo.dir)
        .args(["query", "stats", "--hub", &demo.hub, "--semester", SEMESTER, "--json"])
        .output()
        .expect("run yanpei query stats");
    assert!(out.status.success(), "query stats: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("stats JSON");
    let mut by_kind = BTreeMap::new();
    for r in v["rows"].as_array().expect("rows") {
        *by_kind.entry(r["kind"].as_str().expect("kind").to_owned()).or_insert(0) +=
            r["count"].as_u64().expect("count");
    }
    (v["total"].as_u64().expect("total"), by_kind)
}

/// Fetches `url` inside the page: status and the named response headers (null when absent).
fn fetch_headers(b: &Browser, url: &str, names: &[&str]) -> (u16, Vec<Value>) {
    let v = b
        .js_async(
            "const done = arguments[arguments.length - 1]; \
             fetch(arguments[0], {credentials: 'same-origin'}).then(r => \
               done([r.status, arguments[1].map(n => r.headers.get(n))])).catch(e => done([0, []]));",
            json!([url, names]),
        )
        .expect("fetch in page");
    (v[0].as_u64().unwrap_or(0) as u16, v[1].as_array().cloned().unwrap_or_default())
}

/// Another site, on its own port over plain HTTP: `/login` holds a `text/plain` form that
/// posts JSON-looking text to the dashboard's `/api/login` with `user`'s password;
/// `/logout` a plain form to `/api/logout`. Its address.
fn evil_site(dashboard: &str, user: &str, password: &str) -> String {
    let origin = dashboard.trim_end_matches('/').to_owned();
    let name = format!(r#"{{"username":"{user}","password":"{password}","x":""#);
    let login = format!(
        "<!doctype html><form method=post enctype=text/plain action='{origin}/api/login'>\
         <input type=hidden name='{name}' value='\"}}'><button id=go>go</button></form>"
    );
    let logout = format!(
        "<!doctype html><form method=post action='{origin}/api/logout'><button id=go>go</button></form>"
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the other site");
    let addr = listener.local_addr().expect("its address");
    std::thread::spawn(move || {
        for mut conn in listener.incoming().map_while(Result::ok) {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let page = if head.starts_with(b"GET /logout") { &logout } else { &login };
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    format!("http://{addr}")
}

/// Opens the other site's page `path`, submits its form to the dashboard and returns what
/// the browser then shows.
fn submit_from_other_site(b: &Browser, evil: &str, path: &str) -> String {
    b.goto(&format!("{evil}{path}")).expect("open the other site");
    b.click("#go").expect("submit the form");
    let shown = b
        .wait_for(
            "the dashboard's answer",
            "return location.href.includes('/api/') && document.body && document.body.innerText;",
        )
        .expect("the dashboard answered the form");
    shown.as_str().unwrap_or_default().to_owned()
}

/// Signed in as the operator: HSTS and gzip on the wire; another site's forms refused;
/// 退出 leaves an empty signed-out screen and the old cookie replayed gets 401.
fn sessions_and_transport(b: &Browser, demo: &Demo, origin: &str) {
    let (status, h) = fetch_headers(b, "/", &["strict-transport-security", "content-encoding"]);
    assert_eq!(status, 200);
    assert_eq!(h[0], json!("max-age=31536000"), "HSTS on the page");
    assert_eq!(h[1], json!("gzip"), "the page is compressed on the wire");
    let echarts = b
        .js("return document.querySelector('script[src*=\"echarts\"]').getAttribute('src');", json!([]))
        .expect("the ECharts script");
    let (status, h) =
        fetch_headers(b, echarts.as_str().unwrap_or_default(), &["content-encoding", "cache-control"]);
    assert_eq!(status, 200);
    assert_eq!(h, [json!("gzip"), json!("public, max-age=31536000, immutable")], "{echarts}");

    // Another site's plain form cannot sign the operator out.
    let (user, password) = &demo.logins["教研员"];
    let evil = evil_site(origin, user, password);
    let shown = submit_from_other_site(b, &evil, "/logout");
    assert!(shown.contains("拒绝来自其他网站的请求"), "the forged sign-out is refused: {shown}");
    b.goto(origin).expect("back to the dashboard");
    wait_page(b, "overview");
    assert_eq!(fetch(b, "/api/me").0, 200, "still signed in after the forged sign-out");

    // 退出: the screen shows no menu, no 退出 and no name; the old cookie is refused.
    let old = b.cookie("yanpei_session").expect("read the session cookie");
    assert!(old["value"].as_str().is_some_and(|v| v.starts_with("yp1.")), "a session cookie: {old}");
    b.click("#logout").expect("log out");
    b.wait_for("the login form", "return !document.getElementById('login').hidden").expect("login form");
    let shown = b
        .js(
            "const vis = id => document.getElementById(id).getClientRects().length > 0; \
             return {nav: vis('nav'), user: vis('user'), logout: vis('logout'), page: vis('page'), \
               who: document.getElementById('who').textContent, text: document.body.innerText};",
            json!([]),
        )
        .expect("the signed-out screen");
    assert_eq!(
        (&shown["nav"], &shown["user"], &shown["logout"], &shown["page"]),
        (&json!(false), &json!(false), &json!(false), &json!(false)),
        "{shown}"
    );
    assert_eq!(shown["who"], "", "{shown}");
    assert!(!shown["text"].as_str().unwrap_or("").contains("管理员"), "no previous user on screen: {shown}");
    save(b, "13-signed-out");
    b.add_cookie(&old).expect("put the old cookie back");
    for path in ["/api/me", &format!("/api/view/compliance?semester={SEMESTER}")] {
        assert_eq!(fetch(b, path).0, 401, "{path} with the signed-out cookie");
    }

    // Another site's text/plain form with the 教研员's password does not sign anyone in.
    let shown = submit_from_other_site(b, &evil, "/login");
    assert!(shown.contains("拒绝来自其他网站的请求"), "the forged sign-in is refused: {shown}");
    b.goto(origin).expect("back to the dashboard");
    b.wait_for("the login form", "return !document.getElementById('login').hidden").expect("login form");
    assert_eq!(fetch(b, "/api/me").0, 401, "nobody signed in by the other site");
}

#[test]
fn the_dashboard_in_a_real_browser() {
    let (Some(chromium), Some(driver)) =
        (tool("YANPEI_CHROMIUM", "/usr/bin/chromium"), tool("YANPEI_CHROMEDRIVER", "/usr/bin/chromedriver"))
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser test: install Debian's chromium and chromium-driver (.ci/run does)"
        );
        eprintln!(
            "\n!!!!!!!! SKIPPED the_dashboard_in_a_real_browser: no /usr/bin/chromium or /usr/bin/chromedriver \
             (apt-get install chromium chromium-driver; CI does) !!!!!!!!\n"
        );
        return;
    };
    // Screenshots of this run only.
    for old in std::fs::read_dir(artifacts()).into_iter().flatten().flatten() {
        if old.path().extension().is_some_and(|e| e == "png") {
            let _ = std::fs::remove_file(old.path());
        }
    }
    let demo = start_demo();
    let b = Browser::start(&chromium, &driver).expect("start headless chromium");
    let origin = demo.dashboard.trim_end_matches('/').to_owned();

    // The operator's overview equals the API's totals, kind by kind.
    login(&b, &demo, "管理员");
    b.js(
        "document.getElementById('semester').value = arguments[0]; \
          document.getElementById('semester').dispatchEvent(new Event('change'));",
        json!([SEMESTER]),
    )
    .expect("choose the demo semester");
    wait_page(&b, "overview");
    let (total, by_kind) = api_totals(&demo);
    assert!(total > 1000, "the demo county has thousands of records: {total}");
    assert_eq!(card(&b, "total"), total.to_string(), "overview total = API total");
    let kinds = table(&b, 0);
    assert_eq!(kinds[0], ["类型代码", "活动类型", "次数"]);
    let shown: BTreeMap<String, u64> =
        kinds[1..].iter().map(|r| (r[0].clone(), r[2].parse::<u64>().expect("a count"))).collect();
    assert_eq!(shown, by_kind, "overview by kind = API by kind");
    save(&b, "01-overview-operator");

    // The table's .xlsx download holds the page's numbers.
    let (status, bytes) = fetch(&b, &format!("/api/view/overview?semester={SEMESTER}&format=xlsx&table=0"));
    assert_eq!(status, 200);
    let mut book = Xlsx::new(Cursor::new(bytes)).expect("an xlsx workbook");
    let sheet = book.worksheet_range_at(0).expect("a sheet").expect("readable sheet");
    let from_xlsx: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(cell_text).collect()).collect();
    assert_eq!(from_xlsx, kinds, "the downloaded workbook = the table on the page");

    // The operator's questions, by clicking; then every page at both sizes.
    dash_roles::operator(&b, &demo);
    dash_layout::every_page(&b, "operator", &OPERATOR_PAGES);
    dash_roles::menu(&b, "compliance");
    dash_layout::printed(&b, "compliance");
    b.js("location.hash = '#/pairings';", json!([])).expect("navigate");
    wait_page(&b, "pairings");
    let charts =
        b.js("return document.querySelectorAll('#charts .chart canvas').length;", json!([])).expect("charts");
    assert!(
        charts.as_u64().unwrap_or(0) >= 2,
        "cross-school activity and at least one strong-weak trend chart"
    );
    assert_ne!(card(&b, "cross"), "0", "the demo's pairs have cross-school activity");
    let compliance_rows = {
        b.js("location.hash = '#/compliance';", json!([])).expect("navigate");
        wait_page(&b, "compliance");
        b.js("return document.querySelectorAll('#table-0 tr.highlight').length;", json!([])).expect("rows")
    };
    assert!(compliance_rows.as_u64().unwrap_or(0) > 0, "people behind quota are highlighted");

    // Nothing came from outside the hub.
    let urls = b.requested_urls().expect("performance log");
    assert!(
        urls.iter().any(|u| u.contains("/assets/echarts.min.") && u.ends_with(".js")),
        "ECharts loaded from the hub: {urls:?}"
    );
    let outside: Vec<&String> = urls
        .iter()
        .filter(|u| {
            !(u.starts_with(&origin)
                || u.starts_with("data:")
                || u.starts_with("blob:")
                || u.starts_with("about:"))
        })
        .collect();
    assert!(outside.is_empty(), "requests outside the hub: {outside:?}");

    // Sessions and transport: HSTS and gzip on the wire, forged writes from another
    // site refused, 退出 ends the session for good.
    sessions_and_transport(&b, &demo, &origin);

    // A 教研员 sees only the assigned schools; another school is refused by URL too.
    login(&b, &demo, "教研员");
    let listed: Vec<String> = serde_json::from_value(
        b.js(
            "return Array.from(document.querySelectorAll('#school-select option')).map(o => o.value).filter(v => v);",
            json!([]),
        )
        .expect("school list"),
    )
    .expect("codes");
    // crates/demo/roster/研培人员.csv: JY01 (jy01) is assigned CGZ1, T04Z1 and T08Z2.
    assert_eq!(listed, ["CGZ1", "T04Z1", "T08Z2"], "the 教研员's school list");
    save(&b, "10-mine-staff");
    dash_roles::staff(&b, &demo);
    let mut pages = vec![("mine", "mine")];
    pages.extend(OPERATOR_PAGES.iter().filter(|(p, _)| *p != "school" && *p != "records"));
    pages.push(("school", "school?school=CGZ1"));
    pages.push(("records", "records?school=CGZ1"));
    dash_layout::every_page(&b, "staff", &pages);
    b.js("location.hash = '#/alliances';", json!([])).expect("navigate");
    wait_page(&b, "alliances");
    let schools_table = table(&b, 1);
    assert!(
        schools_table[1..].iter().all(|r| listed.contains(&r[0])),
        "only assigned schools listed: {schools_table:?}"
    );
    save(&b, "11-alliances-staff");
    b.js("location.hash = '#/school/CGZ2';", json!([])).expect("navigate");
    assert_eq!(wait_page(&b, "school"), "无权查看");
    let err = b.js("return document.getElementById('error').textContent;", json!([])).expect("error text");
    assert!(err.as_str().unwrap_or("").contains("CGZ2"), "the refusal names the school: {err}");
    save(&b, "12-unassigned-school-staff");
    let (status, _) = fetch(&b, "/api/view/school?school=CGZ2");
    assert_eq!(status, 403, "an unassigned school is refused by URL");
    let (status, _) = fetch(&b, "/api/view/school?school=CGZ1");
    assert_eq!(status, 200, "an assigned school is served");

    // The principal of CGZ1: my school, my teachers behind, my pairs; every page.
    b.click("#logout").expect("log out");
    b.wait_for("the login form", "return !document.getElementById('login').hidden").expect("login form");
    login(&b, &demo, "校长");
    dash_roles::principal(&b, &demo);
    dash_layout::every_page(&b, "principal", &pages);
}

/// Every page of the operator's menu, and a school's page: (page, route).
const OPERATOR_PAGES: [(&str, &str); 9] = [
    ("overview", "overview"),
    ("alliances", "alliances"),
    ("compliance", "compliance"),
    ("coverage", "coverage"),
    ("pairings", "pairings"),
    ("gaps", "gaps"),
    ("sync", "sync"),
    ("school", "school?school=CGZ2"),
    ("records", "records?school=CGZ2"),
];
