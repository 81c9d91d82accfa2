//! The county's revocation list: `DIR/revoked.txt` (one hex serial per line) and the
//! signed `crl.pem` made from it. Used by `ca revoke` and `ca replace`.

use anyhow::Context;
use yanpei_pki::CountyCa;

/// Adds `serials` to DIR/revoked.txt and rewrites DIR/crl.pem; the number now revoked.
pub(crate) fn revoke_serials(dir: &std::path::Path, serials: &[Vec<u8>]) -> anyhow::Result<usize> {
    let ca = CountyCa::load(dir).context("载入县 CA 失败（请先运行 yanpei ca init）")?;
    let mut revoked = read_revoked(dir)?;
    for serial in serials {
        if !revoked.contains(serial) {
            revoked.push(serial.clone());
        }
    }
    let lines: Vec<String> = revoked.iter().map(|s| hex(s)).collect();
    std::fs::write(dir.join("revoked.txt"), lines.join("\n") + "\n").context("写入 revoked.txt 失败")?;
    let crl = ca.crl_pem(&revoked, revoked.len() as u64, 30)?;
    std::fs::write(dir.join("crl.pem"), crl).context("写入 crl.pem 失败")?;
    Ok(revoked.len())
}

/// Bytes of a hex string; `None` if it is not hex.
pub(crate) fn parse_hex(l: &str) -> Option<Vec<u8>> {
    if !l.len().is_multiple_of(2) {
        return None;
    }
    (0..l.len()).step_by(2).map(|i| u8::from_str_radix(l.get(i..i + 2)?, 16).ok()).collect()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The serials already revoked (DIR/revoked.txt, one hex serial per line).
pub(crate) fn read_revoked(dir: &std::path::Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let path = dir.join("revoked.txt");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(Vec::new()) };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            (0..l.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(l.get(i..i + 2).unwrap_or("zz"), 16))
                .collect::<Result<Vec<u8>, _>>()
                .with_context(|| format!("{}: bad serial {l:?}", path.display()))
        })
        .collect()
}
