//! Attachments end to end over mutual TLS: an upload cut half-way resumes without
//! re-sending what arrived; a tampered chunk, a file that does not match its hash and an
//! over-limit file are refused and nothing is stored; the same file from two schools is
//! stored once; and the hub never takes a record whose attachment it does not hold.

use std::path::{Path, PathBuf};

use tonic::Code;
use tonic::transport::Channel;
use yanpei_attach::{CHUNK_BYTES, Digest, MAX_ATTACHMENT_BYTES};
use yanpei_demo::DemoWorld;
use yanpei_domain::{Activity, SchoolCode};
use yanpei_node::{Agent, NodeError, attach_files};
use yanpei_proto::pb::{self, attachment_service_client::AttachmentServiceClient};
use yanpei_tests::proxy::CutProxy;
use yanpei_tests::{batch, handshake, on_both_backends, raw_client, records, school, test_dir, world};

/// `n` bytes that do not compress (xorshift), different for each `seed`.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// One fresh record at the node, returned as stored.
async fn one_record(agent: &Agent, s: &SchoolCode) -> Activity {
    let a = records(s, 1).remove(0);
    agent.store().record(&a).await.unwrap();
    a
}

async fn files_client(w: &DemoWorld, s: &SchoolCode) -> AttachmentServiceClient<Channel> {
    AttachmentServiceClient::new(w.node_endpoint_via(s, w.hub_addr).unwrap().connect().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_upload_resumes_from_what_the_hub_holds() {
    let w = world("attach_cut", None).await;
    let s = school("CGZ1");
    let proxy = CutProxy::start(w.hub_addr).await.unwrap();
    let agent = w.node_via(&s, "a", proxy.addr).await.unwrap();
    let a = one_record(&agent, &s).await;
    let size = 20 * 1024 * 1024;
    let data = noise(size, 1);
    let file = write_file(&test_dir("attach_cut_files"), "培训录像.mp4", &data);
    let blobs = agent.attachments().unwrap().clone();
    let edited = attach_files(agent.store(), &blobs, a.id, &[file]).await.unwrap();
    assert_eq!(edited.version, 2);
    let digest = Digest::of(&data);
    assert_eq!(edited.body.details.attachments[0].sha256, digest.as_str());

    // The connection is cut after about half the file went up.
    proxy.cut_after(size as u64 / 2);
    let err = agent.sync_once().await.unwrap_err();
    assert!(err.is_retryable(), "a cut is retried: {err}");
    assert_eq!(proxy.cuts(), 1);
    let hub_files = w.hub_attachments();
    let held = hub_files.progress(&digest, size as u64).unwrap();
    assert!(!held.complete);
    assert!(held.received > size as u64 / 4 && held.received < size as u64 / 2, "{held:?}");
    assert_eq!(held.received % CHUNK_BYTES, 0, "only whole chunks count");
    assert_eq!(yanpei_tests::hub_count(&w, &s).await, 0, "no record before its attachment");

    // The next sync sends the rest, not the start again.
    proxy.cut_after(0);
    let r = agent.sync_once().await.unwrap();
    assert_eq!(r.attachments_uploaded, 1);
    assert_eq!(r.attachment_bytes, size as u64 - held.received, "resumed exactly where the hub held");
    assert!(hub_files.has(&digest, size as u64));
    assert_eq!(std::fs::read(hub_files.path_of(&digest)).unwrap(), data);
    let at_hub = w.hub_store.activity(a.id).await.unwrap().unwrap();
    assert_eq!(at_hub.body.details.attachments, edited.body.details.attachments);
    let total = proxy.bytes_up();
    println!(
        "bytes up through the proxy: {total} for a {size}-byte file ({:.3}x)",
        total as f64 / size as f64
    );
    assert!((total as f64) < 1.2 * size as f64, "{total} bytes sent for a {size}-byte file");

    // A third sync sends nothing more.
    let again = agent.sync_once().await.unwrap();
    assert_eq!((again.attachments_uploaded, again.attachment_bytes), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_chunk_or_a_mismatched_file_is_refused_and_nothing_is_stored() {
    let w = world("attach_tamper", None).await;
    let s = school("T03Z1");
    let mut client = files_client(&w, &s).await;
    let data = noise(2 * CHUNK_BYTES as usize + 1000, 2);
    let (digest, size) = (Digest::of(&data), data.len() as u64);
    let first = &data[..CHUNK_BYTES as usize];
    let mut tampered = first.to_vec();
    tampered[100] ^= 0x40;
    let put = |offset: u64, data: Vec<u8>, chunk_sha256: String| pb::PutChunkRequest {
        sha256: digest.to_string(),
        size,
        offset,
        data,
        chunk_sha256,
    };

    let err = client.put_chunk(put(0, tampered, Digest::of(first).to_string())).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("校验失败"), "{}", err.message());
    let held = client
        .attachment_status(pb::AttachmentStatusRequest { sha256: digest.to_string(), size })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((held.received, held.complete), (0, false));

    // A chunk at the wrong offset: FAILED_PRECONDITION, saying where to resume.
    let second = data[CHUNK_BYTES as usize..2 * CHUNK_BYTES as usize].to_vec();
    let err = client.put_chunk(put(CHUNK_BYTES, second.clone(), Digest::of(&second).to_string())).await;
    let err = err.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("从偏移 0 续传"), "{}", err.message());

    // Chunks that each match their own hash but make another file: discarded at the end.
    let mut other = data.clone();
    other[2 * CHUNK_BYTES as usize + 3] ^= 1;
    let mut last = None;
    for off in [0, CHUNK_BYTES, 2 * CHUNK_BYTES] {
        let end = (off + CHUNK_BYTES).min(size) as usize;
        let part = other[off as usize..end].to_vec();
        last = Some(client.put_chunk(put(off, part.clone(), Digest::of(&part).to_string())).await);
    }
    let err = last.unwrap().unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("不符"), "{}", err.message());
    let hub_files = w.hub_attachments();
    assert_eq!(hub_files.count(), 0);
    assert_eq!(hub_files.progress(&digest, size).unwrap().received, 0);

    // A path in place of a hash never reaches the filesystem.
    let err = client
        .attachment_status(pb::AttachmentStatusRequest { sha256: "../../../etc/passwd".into(), size: 10 })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_limit_file_is_refused_with_a_clear_message() {
    let w = world("attach_limit", None).await;
    let s = school("T09X1");
    let agent = w.node(&s, "a").await.unwrap();
    let a = one_record(&agent, &s).await;
    let dir = test_dir("attach_limit_files");
    let small = write_file(&dir, "签到表.jpg", &noise(5000, 3));
    let big = dir.join("全程录像.mp4");
    std::fs::File::create(&big).unwrap().set_len(MAX_ATTACHMENT_BYTES + 1).unwrap(); // sparse
    let blobs = agent.attachments().unwrap().clone();
    let err = attach_files(agent.store(), &blobs, a.id, &[small, big]).await.unwrap_err();
    assert!(matches!(err, NodeError::Attachment(_)), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("全程录像.mp4") && msg.contains("超过附件上限 64 MB"), "{msg}");
    // Nothing was written: not the small file either, and the record is unchanged.
    assert_eq!(blobs.count(), 0);
    assert_eq!(agent.store().get(a.id).await.unwrap().unwrap().version, 1);

    // The hub refuses the size too, whatever a client declares: INVALID_ARGUMENT, since the
    // request breaks a fixed rule and no retry can succeed.
    let mut client = files_client(&w, &s).await;
    let err = client
        .attachment_status(pb::AttachmentStatusRequest {
            sha256: Digest::of(b"x").to_string(),
            size: MAX_ATTACHMENT_BYTES + 1,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("64 MB"), "{}", err.message());

    // An operator certificate cannot upload.
    let op = w.operator_endpoint().unwrap().connect().await.unwrap();
    let err = AttachmentServiceClient::new(op)
        .attachment_status(pb::AttachmentStatusRequest { sha256: Digest::of(b"x").to_string(), size: 1 })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

async fn the_same_file_at_two_schools_is_stored_once(db: Option<String>) {
    let w = world("attach_dedup", db).await;
    let (sa, sb) = (school("T04Z1"), school("T04Z2"));
    let (na, nb) = (w.node(&sa, "a").await.unwrap(), w.node(&sb, "a").await.unwrap());
    let (ra, rb) = (one_record(&na, &sa).await, one_record(&nb, &sb).await);
    let data = noise(CHUNK_BYTES as usize * 3 + 17, 4);
    let dir = test_dir("attach_dedup_files");
    let photo = write_file(&dir, "联合体教研合影.jpg", &data);
    let copy = write_file(&dir, "合影.jpg", &data);
    attach_files(na.store(), na.attachments().unwrap(), ra.id, std::slice::from_ref(&photo)).await.unwrap();
    // Attaching the same content twice to one record changes nothing.
    let same = attach_files(na.store(), na.attachments().unwrap(), ra.id, std::slice::from_ref(&copy))
        .await
        .unwrap();
    assert_eq!((same.version, same.body.details.attachments.len()), (2, 1));
    attach_files(nb.store(), nb.attachments().unwrap(), rb.id, &[copy]).await.unwrap();

    let first = na.sync_once().await.unwrap();
    assert_eq!((first.attachments_uploaded, first.attachments_present), (1, 0));
    let second = nb.sync_once().await.unwrap();
    assert_eq!((second.attachments_uploaded, second.attachments_present, second.attachment_bytes), (0, 1, 0));
    assert_eq!(w.hub_attachments().count(), 1);
    assert!(w.hub_attachments().has(&Digest::of(&data), data.len() as u64));
    assert_eq!(yanpei_tests::hub_count(&w, &sa).await, 1);
    assert_eq!(yanpei_tests::hub_count(&w, &sb).await, 1);
    let b_at_hub = w.hub_store.activity(rb.id).await.unwrap().unwrap();
    assert_eq!(b_at_hub.body.details.attachments[0].name, "合影.jpg");
}
on_both_backends!(the_same_file_at_two_schools_is_stored_once);

async fn a_record_is_refused_until_its_attachment_is_at_the_hub(db: Option<String>) {
    let w = world("attach_first", db).await;
    let s = school("T02Z1");
    let mut a = records(&s, 1).remove(0);
    let data = noise(1000, 5);
    a.body.details.attachments = vec![yanpei_domain::AttachmentRef {
        sha256: Digest::of(&data).to_string(),
        name: "教案.docx".into(),
        size: data.len() as u64,
    }];
    let mut sync = raw_client(&w, &s).await;
    let session = handshake(&mut sync, &s).await;
    let push = pb::PushRequest { session_id: session.clone(), changes: batch(1, std::slice::from_ref(&a)) };
    let err = sync.push(push.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message().contains("教案.docx") && err.message().contains("尚未完整上传"),
        "{}",
        err.message()
    );
    assert_eq!(yanpei_tests::hub_count(&w, &s).await, 0);

    let mut files = files_client(&w, &s).await;
    let done = files
        .put_chunk(pb::PutChunkRequest {
            sha256: Digest::of(&data).to_string(),
            size: data.len() as u64,
            offset: 0,
            data: data.clone(),
            chunk_sha256: Digest::of(&data).to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(done.complete);
    assert_eq!(sync.push(push).await.unwrap().into_inner().applied, 1);
    assert_eq!(yanpei_tests::hub_count(&w, &s).await, 1);
}
on_both_backends!(a_record_is_refused_until_its_attachment_is_at_the_hub);
