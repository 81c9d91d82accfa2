//! The dashboard's sessions and transport over real HTTPS (the hub's certificate), as a
//! browser meets them: signing out ends the session on the hub (the old cookie is
//! refused, and the sign-out is audited), so do a password change and disabling the
//! account; signing in and out cannot be done from another site's page or with a
//! form body; every HTTPS answer carries HSTS. Failed logins on the web port and the
//! gRPC port count toward one lockout.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use tokio::net::TcpListener;
use tonic::Code;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
use yanpei_demo::{DemoWorld, create_demo_accounts, demo_roster};
use yanpei_hub::Accounts;
use yanpei_proto::pb::{self, account_service_client::AccountServiceClient};
use yanpei_store::audit::AuditFilter;
use yanpei_tests::web::WebClient;
use yanpei_tests::{on_both_backends, world};

/// A world with the demo accounts and its dashboard; a client of the dashboard.
async fn dashboard(name: &str, db: Option<String>) -> (DemoWorld, WebClient) {
    let w = world(name, db).await;
    create_demo_accounts(&w.hub_store, &demo_roster().unwrap()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = w.start_dashboard(listener).unwrap();
    let client = WebClient::new(&w, addr);
    (w, client)
}

/// Whether the audit log has an entry `rpc` by `caller` with `code`, waiting for the writer.
async fn audited(w: &DemoWorld, caller: &str, rpc: &str, code: i32) -> bool {
    for _ in 0..50 {
        let filter = AuditFilter { caller: Some(caller.into()), school: None, limit: 100 };
        let rows = w.hub_store.audit(&filter).await.unwrap();
        if rows.iter().any(|r| r.entry.rpc == rpc && r.entry.code == code) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// After 退出 the old cookie reads nothing (401), on this hub and on any other hub of
/// the database; the sign-out is in the audit log. A password change and disabling
/// the account end a session just as at once.
async fn signing_out_ends_the_session(db: Option<String>) {
    let (w, web) = dashboard("web_logout", db).await;
    let cookie = web.login("admin", "demo-admin-pass").await;
    let me = web.get("/api/me", &[("cookie", &cookie)]).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["name"], "县进修学校管理员");

    let out = web.post_json("/api/logout", Some(&cookie), &json!({})).await;
    assert_eq!(out.status, 200, "{}", String::from_utf8_lossy(&out.body));
    assert!(out.header("set-cookie").is_some_and(|c| c.contains("Max-Age=0")), "the browser forgets it");
    for path in ["/api/me", "/api/view/overview", "/api/view/compliance?format=xlsx"] {
        let replay = web.get(path, &[("cookie", &cookie)]).await;
        assert_eq!(replay.status, 401, "{path} with the signed-out cookie");
    }
    // Another hub process on the same database refuses the token too.
    let token = cookie.split_once('=').unwrap().1;
    let other = Accounts::open(w.hub_store.clone(), Duration::from_secs(3600)).await.unwrap();
    let err = other.verify(token).await.unwrap_err().to_string();
    assert!(err.contains("已退出登录"), "{err}");
    assert!(audited(&w, "user:admin", "logout", 0).await, "the sign-out is audited");

    // A password change ends the session at once.
    let cookie = web.login("admin", "demo-admin-pass").await;
    assert_eq!(web.get("/api/me", &[("cookie", &cookie)]).await.status, 200);
    other.set_password("admin", "another-admin-pass").await.unwrap();
    assert_eq!(web.get("/api/me", &[("cookie", &cookie)]).await.status, 401, "after a password change");
    // So does disabling the account.
    let cookie = web.login("admin", "another-admin-pass").await;
    assert_eq!(web.get("/api/me", &[("cookie", &cookie)]).await.status, 200);
    other.set_disabled("admin", true).await.unwrap();
    assert_eq!(web.get("/api/me", &[("cookie", &cookie)]).await.status, 401, "after disabling");
}

on_both_backends!(signing_out_ends_the_session);

/// Another site's page cannot sign someone in or out: a cross-origin `text/plain`
/// form (the only body it can send without asking) is refused before it is read, and
/// a same-origin form body is refused for not being JSON. Refusals are audited.
async fn writes_from_other_sites_are_refused(db: Option<String>) {
    let (w, web) = dashboard("web_csrf", db).await;
    let creds = json!({"username": "jy01", "password": "demo-jy01-pass"}).to_string();
    let evil = [
        ("content-type", "text/plain"),
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ];

    // Signing in from another site, with the right password in a text/plain form.
    let r = web.send("POST", "/api/login", &evil, creds.as_bytes()).await;
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.header("set-cookie").is_none(), "no session for a forged sign-in");
    assert!(r.json()["error"].as_str().unwrap_or("").contains("其他网站"));
    // Only Origin (an older browser), or only Sec-Fetch-Site: refused alike.
    let r = web.send("POST", "/api/login", &[evil[0], evil[1]], creds.as_bytes()).await;
    assert_eq!(r.status, 403);
    let r = web.send("POST", "/api/login", &[evil[0], evil[2]], creds.as_bytes()).await;
    assert_eq!(r.status, 403);
    // From the dashboard's own origin, form and text bodies are not JSON.
    let origin = web.origin();
    for ct in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
        let r = web
            .send("POST", "/api/login", &[("content-type", ct), ("origin", &origin)], creds.as_bytes())
            .await;
        assert_eq!(r.status, 415, "{ct}");
        assert!(r.header("set-cookie").is_none(), "{ct}");
    }

    // Signing out from another site leaves the session alone.
    let cookie = web.login("jy01", "demo-jy01-pass").await;
    let mut forged = evil.to_vec();
    forged.push(("cookie", &cookie));
    let r = web.send("POST", "/api/logout", &forged, b"").await;
    assert_eq!(r.status, 403);
    assert!(r.header("set-cookie").is_none(), "the cookie is not cleared");
    let r = web
        .send(
            "POST",
            "/api/logout",
            &[("content-type", "text/plain"), ("origin", &origin), ("cookie", &cookie)],
            b"",
        )
        .await;
    assert_eq!(r.status, 415);
    assert_eq!(web.get("/api/me", &[("cookie", &cookie)]).await.status, 200, "still signed in");
    assert!(audited(&w, "（无身份）", "POST /api/login", tonic::Code::PermissionDenied as i32).await);
    assert!(audited(&w, "（无身份）", "POST /api/logout", tonic::Code::PermissionDenied as i32).await);
}

on_both_backends!(writes_from_other_sites_are_refused);

/// Every answer over HTTPS (page, script, JSON, refusal) tells the browser to use HTTPS only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_answers_carry_hsts() {
    let (_w, web) = dashboard("web_hsts", None).await;
    let login = web.post_json("/api/login", None, &json!({"username": "admin", "password": "x"})).await;
    for r in [
        web.get("/", &[]).await,
        web.get("/assets/app.js", &[]).await,
        web.get("/api/me", &[]).await,
        web.get("/nowhere", &[]).await,
        login,
    ] {
        assert_eq!(r.header("strict-transport-security"), Some("max-age=31536000"), "{:?}", r.headers);
    }
}

/// Signing in over gRPC without a certificate, as `yanpei login` does.
async fn grpc_login(w: &DemoWorld, user: &str, password: &str) -> Result<(), tonic::Status> {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(w.ca.cert_pem()))
        .domain_name(yanpei_pki::HUB_DNS_NAME);
    let channel = Endpoint::from_shared(format!("https://{}", w.hub_addr))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let request = pb::LoginRequest { username: user.into(), password: password.into() };
    AccountServiceClient::new(channel).login(request).await.map(|_| ())
}

/// The web port and the gRPC port are one hub: wrong passwords on either count toward
/// the same lockout, so a guesser gains nothing by alternating ports.
async fn failed_logins_on_either_port_lock_both(db: Option<String>) {
    let (w, web) = dashboard("web_lockout", db).await;
    let wrong_web = || async {
        let r =
            web.post_json("/api/login", None, &json!({"username": "jy01", "password": "wrong-guess"})).await;
        (r.status, r.json()["error"].as_str().unwrap_or("").to_owned())
    };
    // Three wrong on the web port, two on gRPC: five in a row for jy01.
    for _ in 0..3 {
        assert_eq!(wrong_web().await.0, 401);
    }
    for _ in 0..2 {
        assert_eq!(grpc_login(&w, "jy01", "wrong-guess").await.unwrap_err().code(), Code::Unauthenticated);
    }
    // Locked on both ports, even with the right password.
    let locked = grpc_login(&w, "jy01", "demo-jy01-pass").await.unwrap_err();
    assert!(locked.message().contains("次数过多"), "gRPC: {}", locked.message());
    let r =
        web.post_json("/api/login", None, &json!({"username": "jy01", "password": "demo-jy01-pass"})).await;
    assert_eq!(r.status, 401);
    assert!(r.json()["error"].as_str().unwrap_or("").contains("次数过多"), "web: {:?}", r.json());

    // And the other way round: five wrong over gRPC lock the web port.
    for _ in 0..5 {
        assert!(grpc_login(&w, "admin", "wrong-guess").await.is_err());
    }
    let r =
        web.post_json("/api/login", None, &json!({"username": "admin", "password": "demo-admin-pass"})).await;
    assert!(r.json()["error"].as_str().unwrap_or("").contains("次数过多"), "web: {:?}", r.json());
    // Both ports' attempts are in the one audit log.
    assert!(audited(&w, "user:jy01", "login", Code::Unauthenticated as i32).await);
}

on_both_backends!(failed_logins_on_either_port_lock_both);

/// What the page loads goes gzipped and, named by its hash, is kept by the browser for a
/// year; the page and data are never cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_compressed_and_kept_for_good() {
    let (_w, web) = dashboard("web_gzip", None).await;
    let gzip = [("accept-encoding", "gzip")];
    let page = web.get("/", &gzip).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-encoding"), Some("gzip"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    // The page as a browser reads it (without asking for gzip) names the hashed assets.
    let html = String::from_utf8(web.get("/", &[]).await.body).unwrap();
    let echarts = html
        .split('"')
        .find(|s| s.starts_with("/assets/echarts.min.") && s.ends_with(".js"))
        .unwrap_or_else(|| panic!("the page names ECharts by its hash: {html}"))
        .to_owned();
    assert_ne!(echarts, "/assets/echarts.min.js");

    let plain = web.get(&echarts, &[]).await;
    assert_eq!(plain.status, 200);
    assert!(plain.header("content-encoding").is_none(), "not compressed unless asked");
    let zipped = web.get(&echarts, &gzip).await;
    assert_eq!(zipped.status, 200);
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert_eq!(zipped.header("cache-control"), Some("public, max-age=31536000, immutable"));
    assert!(zipped.body.starts_with(&[0x1f, 0x8b]), "a gzip stream");
    assert!(
        zipped.body.len() * 2 < plain.body.len(),
        "ECharts {} bytes gzipped to {}",
        plain.body.len(),
        zipped.body.len()
    );
    // By its plain name it is revalidated; by an unknown hash it is not found.
    assert_eq!(web.get("/assets/echarts.min.js", &gzip).await.header("cache-control"), Some("no-cache"));
    assert_eq!(web.get("/assets/echarts.min.000000000000.js", &gzip).await.status, 404);
    // Data is compressed too, and never cached.
    let cookie = web.login("admin", "demo-admin-pass").await;
    let me = web.get("/api/me", &[("cookie", &cookie), gzip[0]]).await;
    assert_eq!(me.header("content-encoding"), Some("gzip"));
    assert_eq!(me.header("cache-control"), Some("no-store"));
}

/// The dashboard keeps the county's own calendar: a county whose semester runs from
/// 30 August to 23 January sees that semester by default, its weeks from the county's
/// first (2025-W35) to its last (2026-W04), and compliance counted to its last day.
async fn the_dashboard_keeps_the_countys_dates(db: Option<String>) {
    use yanpei_domain::roster::SemesterDates;
    use yanpei_domain::{Activity, ActivityKind, Semester, Term};

    let (w, web) = dashboard("web_calendar", db).await;
    let semester = Semester::new(2025, Term::First).unwrap();
    let day = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
    let mut roster = demo_roster().unwrap();
    roster.semesters = vec![SemesterDates { semester, start: day("2025-08-30"), end: day("2026-01-23") }];
    for s in &mut roster.stationings {
        s.semester = semester;
    }
    w.hub_store.replace_roster(&roster, "test").await.unwrap();
    let school = yanpei_tests::school("CGZ1");
    let node = w.node(&school, "a").await.unwrap();
    let teacher = roster.teachers.iter().find(|t| t.school == school).unwrap();
    let records: Vec<Activity> = ["2025-08-30", "2026-01-23"]
        .iter()
        .map(|d| {
            let mut body =
                yanpei_domain::example_draft(ActivityKind::LessonObservation, &yanpei_tests::school("CGZ2"));
            body.teacher = Some(teacher.name.clone());
            Activity::create(school.clone(), semester, day(d), ActivityKind::LessonObservation, body).unwrap()
        })
        .collect();
    node.store().record_all(&records).await.unwrap();
    let synced = node.sync_once().await.unwrap();
    assert_eq!(synced.pushed, 2, "{synced:?}");

    let cookie = web.login("admin", "demo-admin-pass").await;
    let me = web.get("/api/me", &[("cookie", &cookie)]).await.json();
    assert_eq!(me["default_semester"], "2025-2026-1", "{me:#}");
    let gaps = web.get("/api/view/gaps", &[("cookie", &cookie)]).await.json();
    assert_eq!(gaps["semester"], "2025-2026学年第一学期");
    let weeks = gaps["charts"][0]["categories"].as_array().unwrap();
    assert_eq!(
        (weeks.first().and_then(|w| w.as_str()), weeks.last().and_then(|w| w.as_str())),
        // ISO weeks 2025-W35 and 2026-W04, told as dates; both are cut short by the
        // county's semester (2025-08-30 to 2026-01-23).
        (Some("8月25日–31日（不足一周）"), Some("1月19日–25日（不足一周）")),
        "{weeks:?}"
    );
    let compliance = web.get("/api/view/compliance", &[("cookie", &cookie)]).await.json();
    let as_of = compliance["cards"].as_array().unwrap().iter().find(|c| c["id"] == "as_of").unwrap();
    assert_eq!(as_of["value"], "2026年1月23日", "{as_of}");
}
on_both_backends!(the_dashboard_keeps_the_countys_dates);
