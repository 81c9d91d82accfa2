//! Compiles `proto/` with a pure-Rust protobuf compiler (protox): no protoc install needed.

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "yanpei/v1/common.proto",
        "yanpei/v1/roster.proto",
        "yanpei/v1/report.proto",
        "yanpei/v1/audit.proto",
        "yanpei/v1/sync.proto",
        "yanpei/v1/attachment.proto",
        "yanpei/v1/account.proto",
        "yanpei/v1/enroll.proto",
    ]
    .map(|f| root.join(f));
    println!("cargo:rerun-if-changed={}", root.display());

    let descriptors = protox::compile(&files, [&root])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(out.join("yanpei_descriptor.bin"), prost::Message::encode_to_vec(&descriptors))?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(descriptors)?;
    Ok(())
}
