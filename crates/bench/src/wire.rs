//! A loopback TCP proxy that counts every byte between a node and the hub, both
//! ways: what the sync costs on the wire, TLS records and HTTP/2 framing included.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::BenchError;

/// A running counting proxy (it stops with the runtime).
pub(crate) struct CountingProxy {
    /// Where nodes connect.
    pub(crate) addr: SocketAddr,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
    open: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    /// Starts a proxy on `127.0.0.1:0` forwarding to `hub`.
    pub(crate) async fn start(hub: SocketAddr) -> Result<CountingProxy, BenchError> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(BenchError::io("bind the proxy"))?;
        let addr = listener.local_addr().map_err(BenchError::io("bind the proxy"))?;
        let (up, down) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let open = Arc::new(AtomicU64::new(0));
        let (u, d, o) = (up.clone(), down.clone(), open.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (u, d, o) = (u.clone(), d.clone(), o.clone());
                o.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    if let Ok(hub) = TcpStream::connect(hub).await {
                        let (cr, cw) = client.into_split();
                        let (hr, hw) = hub.into_split();
                        tokio::join!(pump(cr, hw, u), pump(hr, cw, d));
                    }
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Ok(CountingProxy { addr, up, down, open, task })
    }

    /// Waits (up to 5 s) until every proxied connection has closed, so the
    /// counts include each connection's last bytes.
    pub(crate) async fn settle(&self) {
        for _ in 0..1000 {
            if self.open.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Bytes node-to-hub and hub-to-node so far.
    pub(crate) fn bytes(&self) -> (u64, u64) {
        (self.up.load(Ordering::SeqCst), self.down.load(Ordering::SeqCst))
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pump(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin, count: Arc<AtomicU64>) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
        count.fetch_add(n as u64, Ordering::SeqCst);
    }
    let _ = to.shutdown().await;
}
