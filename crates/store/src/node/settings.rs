//! The node's settings, typed: how `yanpei node init` said to reach the hub. Kept in the
//! meta table beside the sync state, but written and read only through these methods,
//! never by key from outside the store.

use std::path::PathBuf;

use super::NodeStore;
use super::meta::{get_meta, set_meta};
use crate::StoreError;

/// How this node reaches the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSettings {
    /// The hub's URL, e.g. `https://hub.example.edu.cn:7443`.
    pub hub_url: String,
    /// The name on the hub's certificate.
    pub server_name: String,
    /// The county CA certificate (an absolute path).
    pub ca: PathBuf,
    /// This node's certificate (an absolute path).
    pub cert: PathBuf,
    /// This node's private key (an absolute path).
    pub key: PathBuf,
}

/// The meta keys, as stores written by every earlier version hold them.
const HUB: &str = "hub_url";
const SERVER_NAME: &str = "hub_server_name";
const CA: &str = "tls_ca";
const CERT: &str = "tls_cert";
const KEY: &str = "tls_key";

impl NodeStore {
    /// Saves the settings, all in one transaction.
    pub async fn save_settings(&self, s: &NodeSettings) -> Result<(), StoreError> {
        let txn = self.db.begin_write().await?;
        let path = |p: &PathBuf| p.display().to_string();
        for (k, v) in [
            (HUB, s.hub_url.clone()),
            (SERVER_NAME, s.server_name.clone()),
            (CA, path(&s.ca)),
            (CERT, path(&s.cert)),
            (KEY, path(&s.key)),
        ] {
            set_meta(&txn, k, &v).await?;
        }
        txn.commit().await
    }

    /// The settings `save_settings` wrote; a store without them was never set up
    /// (NOT_FOUND naming the first one missing).
    pub async fn settings(&self) -> Result<NodeSettings, StoreError> {
        let conn = self.conn();
        let get = |k: &'static str| {
            let conn = conn.clone();
            async move {
                get_meta(&conn, k).await?.ok_or_else(|| {
                    StoreError::NotFound(format!("节点未配置 {k}：请重新运行 `yanpei node init`"))
                })
            }
        };
        Ok(NodeSettings {
            hub_url: get(HUB).await?,
            server_name: get(SERVER_NAME).await?,
            ca: get(CA).await?.into(),
            cert: get(CERT).await?.into(),
            key: get(KEY).await?.into(),
        })
    }
}
