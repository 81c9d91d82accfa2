//! People's accounts over real TLS: a person logs in without a certificate and reads
//! exactly what their identity's scope allows — the operator the county, a 教研员 the
//! schools the current roster assigns, a principal their school — and nothing writes
//! with a token. Bad, expired, tampered or absent credentials are UNAUTHENTICATED;
//! disabling an account or changing its password ends its tokens at once.

use std::time::Duration;

use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use yanpei_demo::{DemoWorld, create_demo_accounts};
use yanpei_domain::SchoolCode;
use yanpei_hub::Accounts;
use yanpei_pki::HUB_DNS_NAME;
use yanpei_proto::pb::{
    self, account_service_client::AccountServiceClient, query_service_client::QueryServiceClient,
};
use yanpei_tests::{on_both_backends, records, school, world};

/// A TLS channel to the world's hub that presents no client certificate.
async fn no_cert(w: &DemoWorld) -> Channel {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(w.ca.cert_pem()))
        .domain_name(HUB_DNS_NAME);
    Endpoint::from_shared(format!("https://{}", w.hub_addr))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn bearer<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    req
}

async fn login(w: &DemoWorld, user: &str, password: &str) -> Result<pb::LoginResponse, tonic::Status> {
    let mut client = AccountServiceClient::new(no_cert(w).await);
    client
        .login(pb::LoginRequest { username: user.into(), password: password.into() })
        .await
        .map(|r| r.into_inner())
}

fn stats_of(code: &SchoolCode) -> pb::StatsRequest {
    pb::StatsRequest {
        semester: None,
        scope: Some(pb::Scope { target: Some(pb::scope::Target::SchoolCode(code.to_string())) }),
        group_by: 0,
        ..Default::default()
    }
}

fn county() -> pb::StatsRequest {
    let scope = Some(pb::Scope { target: Some(pb::scope::Target::County(true)) });
    pb::StatsRequest { semester: None, scope, group_by: 0, ..Default::default() }
}

/// No scope: whatever the caller may read.
fn unscoped() -> pb::StatsRequest {
    pb::StatsRequest::default()
}

/// The demo accounts (admin, jy01, the principal of the first school) in the world's hub.
async fn with_accounts(w: &DemoWorld) -> Vec<yanpei_demo::DemoAccount> {
    create_demo_accounts(&w.hub_store, &yanpei_demo::demo_roster().unwrap()).await.unwrap()
}

/// Good password: a token, the role, the name. Wrong password and unknown user: the same
/// UNAUTHENTICATED answer. A disabled account cannot log in, and the token it had stops
/// working at once. Every attempt is in the audit log.
async fn logins_good_bad_unknown_and_disabled(db: Option<String>) {
    let w = world("acct_login", db).await;
    let demo = with_accounts(&w).await;
    assert_eq!(demo.iter().map(|a| a.username.as_str()).collect::<Vec<_>>()[..2], ["admin", "jy01"]);

    let ok = login(&w, "admin", "demo-admin-pass").await.unwrap();
    assert_eq!((ok.username.as_str(), ok.role.as_str(), ok.subject.as_str()), ("admin", "operator", ""));
    assert_eq!(ok.display_name, "县进修学校管理员");
    let expires = chrono::DateTime::parse_from_rfc3339(&ok.expires_at).unwrap();
    let ttl = expires.signed_duration_since(chrono::Utc::now());
    assert!(ttl > chrono::TimeDelta::hours(7) && ttl <= chrono::TimeDelta::hours(8), "{ttl}");

    let wrong = login(&w, "admin", "demo-admin-wrong").await.unwrap_err();
    let unknown = login(&w, "nobody", "demo-admin-pass").await.unwrap_err();
    assert_eq!((wrong.code(), unknown.code()), (Code::Unauthenticated, Code::Unauthenticated));
    assert_eq!(wrong.message(), "用户名或密码错误");
    assert_eq!(unknown.message(), wrong.message(), "an unknown user must look like a wrong password");

    // The operator's token reads the county.
    let mut query = QueryServiceClient::new(no_cert(&w).await);
    query.stats(bearer(county(), &ok.token)).await.unwrap();

    // Disabled: no login (even with the right password), and the token in hand is refused.
    let accounts = Accounts::open(w.hub_store.clone(), Duration::from_secs(3600)).await.unwrap();
    accounts.set_disabled("admin", true).await.unwrap();
    let status = query.stats(bearer(county(), &ok.token)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let status = login(&w, "admin", "demo-admin-pass").await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("停用"), "{}", status.message());
    // Enabled again: a fresh login works.
    accounts.set_disabled("admin", false).await.unwrap();
    let again = login(&w, "admin", "demo-admin-pass").await.unwrap();
    query.stats(bearer(county(), &again.token)).await.unwrap();

    // Every attempt is audited under the name tried; calls with a token under the account.
    let log = query
        .audit(bearer(
            pb::AuditRequest { limit: 200, caller: String::new(), school_code: String::new() },
            &again.token,
        ))
        .await
        .unwrap()
        .into_inner()
        .entries;
    let count = |caller: &str, rpc: &str, code: Code| {
        log.iter().filter(|e| e.caller == caller && e.rpc == rpc && e.code == code as i32).count()
    };
    assert_eq!(count("user:admin", "login", Code::Ok), 2, "{log:#?}");
    assert_eq!(count("user:admin", "login", Code::Unauthenticated), 2, "{log:#?}");
    assert_eq!(count("user:nobody", "login", Code::Unauthenticated), 1, "{log:#?}");
    assert!(count("user:admin", "/yanpei.v1.QueryService/Stats", Code::Ok) >= 2, "{log:#?}");
}
on_both_backends!(logins_good_bad_unknown_and_disabled);

/// A 教研员's token reads the schools the roster assigns and gets PERMISSION_DENIED
/// elsewhere; after the roster assigns another school, the same token reads it.
async fn a_staff_token_follows_the_roster(db: Option<String>) {
    let w = world("acct_staff", db).await;
    with_accounts(&w).await;
    let mut roster = yanpei_demo::demo_roster().unwrap();
    let staff = roster.staff.iter().find(|s| s.id == "JY01").unwrap().clone();
    let assigned = staff.schools[0].clone();
    let other = roster.schools.iter().map(|s| s.code.clone()).find(|c| !staff.schools.contains(c)).unwrap();
    let node = w.node(&assigned, "a").await.unwrap();
    node.store().record_all(&records(&assigned, 4)).await.unwrap();
    node.sync_once().await.unwrap();

    let token = login(&w, "jy01", "demo-jy01-pass").await.unwrap().token;
    let mut query = QueryServiceClient::new(no_cert(&w).await);
    assert_eq!(query.stats(bearer(stats_of(&assigned), &token)).await.unwrap().into_inner().total, 4);
    let status = query.stats(bearer(stats_of(&other), &token)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains(other.as_str()), "{}", status.message());
    assert_eq!(query.stats(bearer(county(), &token)).await.unwrap_err().code(), Code::PermissionDenied);
    // Without a scope, a 教研员 gets the assigned schools (4 records, all at the first).
    assert_eq!(query.stats(bearer(unscoped(), &token)).await.unwrap().into_inner().total, 4);
    let audit = pb::AuditRequest { limit: 10, caller: String::new(), school_code: String::new() };
    assert_eq!(query.audit(bearer(audit, &token)).await.unwrap_err().code(), Code::PermissionDenied);

    for s in &mut roster.staff {
        if s.id == "JY01" {
            s.schools.push(other.clone());
        }
    }
    w.hub_store.replace_roster(&roster, "测试").await.unwrap();
    assert_eq!(query.stats(bearer(stats_of(&other), &token)).await.unwrap().into_inner().total, 0);
}
on_both_backends!(a_staff_token_follows_the_roster);

/// A principal reads their own school and nothing else, not the county either; the
/// reports answer for their school only.
async fn a_principal_reads_only_their_school(db: Option<String>) {
    let w = world("acct_principal", db).await;
    let demo = with_accounts(&w).await;
    let principal = demo.iter().find(|a| a.role == "校长").unwrap();
    let mine: SchoolCode = principal.subject.parse().unwrap();
    let other = school("T03Z2");
    assert_ne!(mine, other);
    for s in [&mine, &other] {
        let node = w.node(s, "a").await.unwrap();
        node.store().record_all(&records(s, 3)).await.unwrap();
        node.sync_once().await.unwrap();
    }
    let session = login(&w, &principal.username, &principal.password).await.unwrap();
    assert_eq!((session.role.as_str(), session.subject.as_str()), ("principal", mine.as_str()));
    let mut query = QueryServiceClient::new(no_cert(&w).await);
    assert_eq!(query.stats(bearer(stats_of(&mine), &session.token)).await.unwrap().into_inner().total, 3);
    let status = query.stats(bearer(stats_of(&other), &session.token)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(
        query.stats(bearer(county(), &session.token)).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    // `query stats` without a scope answers for their school, like the other queries.
    assert_eq!(query.stats(bearer(unscoped(), &session.token)).await.unwrap().into_inner().total, 3);
    let ledger = pb::SyncLedgerRequest { school_code: other.to_string(), limit: 5 };
    assert_eq!(
        query.sync_ledger(bearer(ledger, &session.token)).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    // A report without a school covers what the caller may read: theirs alone.
    let status = query.sync_status(bearer(pb::SyncStatusRequest { days: 2 }, &session.token)).await.unwrap();
    let schools: Vec<String> = status.into_inner().schools.into_iter().map(|s| s.school_code).collect();
    assert_eq!(schools, vec![mine.to_string()]);
    // Both schools of a pair see the pair: every pair of theirs, whoever the partner is.
    let ask = pb::PairingsRequest {
        semester: Some(yanpei_proto::semester_to_pb(yanpei_demo::DEMO_SEMESTER)),
        ..Default::default()
    };
    let pairs = query.pairings(bearer(ask, &session.token)).await.unwrap().into_inner().pairings;
    let roster = yanpei_demo::demo_roster().unwrap();
    let theirs = roster.pairings.iter().filter(|p| p.helper == mine || p.partner == mine).count();
    assert!(theirs > 0, "the demo principal's school has a pair");
    assert_eq!(pairs.len(), theirs);
    assert!(pairs.iter().all(|p| p.helper_code == mine.as_str() || p.partner_code == mine.as_str()));
}
on_both_backends!(a_principal_reads_only_their_school);

/// Expired, tampered and foreign tokens, and a call with neither certificate nor token,
/// are UNAUTHENTICATED; a token never opens the sync or attachment RPCs.
async fn refused_credentials(db: Option<String>) {
    let w = world("acct_refused", db).await;
    with_accounts(&w).await;
    let s = school("CGZ1");
    let mut query = QueryServiceClient::new(no_cert(&w).await);

    // Neither certificate nor token.
    let status = query.stats(county()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let mut sync = pb::sync_service_client::SyncServiceClient::new(no_cert(&w).await);
    let hello = || pb::HandshakeRequest {
        protocol_version: yanpei_proto::PROTOCOL_VERSION,
        node_id: uuid::Uuid::now_v7().to_string(),
        school_code: s.to_string(),
        agent_version: "test".into(),
    };
    assert_eq!(sync.handshake(hello()).await.unwrap_err().code(), Code::Unauthenticated);

    // Expired: issued by accounts whose tokens live zero seconds (same database, same key).
    let expiring = Accounts::open(w.hub_store.clone(), Duration::ZERO).await.unwrap();
    let expired = expiring.login("admin", "demo-admin-pass").await.unwrap().token;
    let status = query.stats(bearer(county(), &expired)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("过期"), "{}", status.message());

    // Tampered: the claims of a 教研员's token rewritten to say operator.
    let staff = login(&w, "jy01", "demo-jy01-pass").await.unwrap().token;
    let parts: Vec<&str> = staff.split('.').collect();
    assert_eq!(parts.len(), 3);
    use base64ct::{Base64UrlUnpadded, Encoding};
    let claims = Base64UrlUnpadded::decode_vec(parts[1]).unwrap();
    let forged = String::from_utf8(claims).unwrap().replace("\"staff\"", "\"operator\"");
    let forged = format!("{}.{}.{}", parts[0], Base64UrlUnpadded::encode_string(forged.as_bytes()), parts[2]);
    for bad in [forged.as_str(), "yp1.e30.AAAA", "garbage", &staff[..staff.len() - 2]] {
        let status = query.stats(bearer(county(), bad)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{bad}: {status:?}");
    }

    // A valid operator token cannot sync or upload: those need a school's node certificate.
    let operator = login(&w, "admin", "demo-admin-pass").await.unwrap().token;
    let status = sync.handshake(bearer(hello(), &operator)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let push = pb::PushRequest {
        session_id: uuid::Uuid::now_v7().to_string(),
        changes: yanpei_tests::batch(1, &records(&s, 2)),
    };
    let status = sync.push(bearer(push, &operator)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let mut files = pb::attachment_service_client::AttachmentServiceClient::new(no_cert(&w).await);
    let ask = pb::AttachmentStatusRequest { sha256: "0".repeat(64), size: 1 };
    let status = files.attachment_status(bearer(ask, &operator)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(yanpei_tests::hub_count(&w, &s).await, 0);
    assert!(w.hub_store.ledger(None, 10).await.unwrap().is_empty(), "a token opened a sync session");
}
on_both_backends!(refused_credentials);

/// A new password ends the tokens issued before it; repeated wrong passwords lock the
/// username for a while (even the right password is refused then), other users unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_password_ends_old_tokens_and_guessing_is_locked_out() {
    let w = world("acct_passwd", None).await;
    with_accounts(&w).await;
    let mut query = QueryServiceClient::new(no_cert(&w).await);
    let old = login(&w, "jy01", "demo-jy01-pass").await.unwrap().token;
    let accounts = Accounts::open(w.hub_store.clone(), Duration::from_secs(3600)).await.unwrap();
    let short = accounts.set_password("jy01", "short").await.unwrap_err();
    assert!(short.to_string().contains("至少 8 个字符"), "{short}");
    accounts.set_password("jy01", "a-new-password").await.unwrap();
    let status = query.stats(bearer(stats_of(&school("CGZ1")), &old)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("密码已更改"), "{}", status.message());
    assert!(login(&w, "jy01", "demo-jy01-pass").await.is_err());
    login(&w, "jy01", "a-new-password").await.unwrap();

    for _ in 0..5 {
        assert_eq!(login(&w, "jy01", "guess-guess").await.unwrap_err().message(), "用户名或密码错误");
    }
    let locked = login(&w, "jy01", "a-new-password").await.unwrap_err();
    assert_eq!(locked.code(), Code::Unauthenticated);
    assert!(locked.message().contains("次数过多"), "{}", locked.message());
    // An unknown name is locked the same way (a lock says nothing about existence).
    for _ in 0..5 {
        let _ = login(&w, "ghost", "guess-guess").await;
    }
    assert!(login(&w, "ghost", "guess-guess").await.unwrap_err().message().contains("次数过多"));
    login(&w, "admin", "demo-admin-pass").await.unwrap();
}

/// Account rules: a 教研员 must be on the roster, a principal's school too; usernames are unique.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_checked_against_the_roster() {
    use yanpei_hub::accounts::AccountRole;
    let w = world("acct_rules", None).await;
    let accounts = Accounts::open(w.hub_store.clone(), Duration::from_secs(3600)).await.unwrap();
    let e = accounts
        .add("x1", "某人", AccountRole::Staff { id: "NOPE".into() }, "long-enough")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("NOPE"), "{e}");
    let e = accounts
        .add("x2", "某人", AccountRole::Principal { school: school("ZZZ9") }, "long-enough")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("ZZZ9"), "{e}");
    accounts.add("jy", "教研员", AccountRole::Staff { id: "JY01".into() }, "long-enough").await.unwrap();
    let e = accounts.add("jy", "again", AccountRole::Operator, "long-enough").await.unwrap_err();
    assert!(e.to_string().contains("已被使用"), "{e}");
    let stored = accounts.get("jy").await.unwrap().unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"), "{}", stored.password_hash);
    assert!(!stored.password_hash.contains("long-enough"));
    assert_eq!(accounts.list().await.unwrap().len(), 1);
}
