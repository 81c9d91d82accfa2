//! A TCP proxy on loopback between a node and the hub that can cut a connection after a
//! number of client-to-hub bytes: a network failure in the middle of a push.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Counters and the cut setting, shared with the proxy's tasks.
#[derive(Debug)]
struct State {
    /// Client-to-hub bytes after which a new connection is cut; 0 = never.
    cut_after: AtomicU64,
    /// Client-to-hub bytes forwarded so far, all connections.
    total_up: AtomicU64,
    /// Connections cut so far.
    cuts: AtomicU32,
    /// Publishes `total_up` to waiters.
    progress: tokio::sync::watch::Sender<u64>,
}

/// A running proxy.
#[derive(Debug, Clone)]
pub struct CutProxy {
    /// Where nodes connect.
    pub addr: SocketAddr,
    state: Arc<State>,
    upstream: Arc<std::sync::Mutex<SocketAddr>>,
}

impl CutProxy {
    /// Starts a proxy on `127.0.0.1:0` forwarding to `hub`.
    pub async fn start(hub: SocketAddr) -> std::io::Result<CutProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            cut_after: AtomicU64::new(0),
            total_up: AtomicU64::new(0),
            cuts: AtomicU32::new(0),
            progress: tokio::sync::watch::channel(0).0,
        });
        let st = state.clone();
        let upstream = Arc::new(std::sync::Mutex::new(hub));
        let target = upstream.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let st = st.clone();
                let hub = *target.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                tokio::spawn(async move {
                    if let Ok(upstream) = TcpStream::connect(hub).await {
                        pipe(client, upstream, st).await;
                    }
                });
            }
        });
        Ok(CutProxy { addr, state, upstream })
    }

    /// Sends new connections to `hub` (after the hub restarted on another port).
    pub fn retarget(&self, hub: SocketAddr) {
        *self.upstream.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = hub;
    }

    /// Cut every new connection once it has carried `bytes` client-to-hub bytes (0: never).
    pub fn cut_after(&self, bytes: u64) {
        self.state.cut_after.store(bytes, Ordering::SeqCst);
    }

    /// Client-to-hub bytes forwarded so far, over all connections (counted as they pass).
    pub fn bytes_up(&self) -> u64 {
        self.state.total_up.load(Ordering::SeqCst)
    }

    /// Waits until at least `bytes` client-to-hub bytes have passed in all.
    pub async fn wait_for_bytes(&self, bytes: u64) {
        let mut rx = self.state.progress.subscribe();
        let _ = rx.wait_for(|n| *n >= bytes).await;
    }

    /// How many connections were cut.
    pub fn cuts(&self) -> u32 {
        self.state.cuts.load(Ordering::SeqCst)
    }
}

async fn pipe(client: TcpStream, upstream: TcpStream, st: Arc<State>) {
    let limit = match st.cut_after.load(Ordering::SeqCst) {
        0 => u64::MAX,
        n => n,
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    let sent = AtomicU64::new(0);
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    // The node closed its side: let the hub's answer drain.
                    let _ = uw.shutdown().await;
                    return false;
                }
                Ok(n) => n,
            };
            let so_far = sent.load(Ordering::SeqCst);
            let room = limit - so_far;
            if (n as u64) >= room {
                // Forward part of this read, then drop the connection both ways.
                let part = usize::try_from(room).unwrap_or(n);
                let _ = uw.write_all(&buf[..part]).await;
                sent.store(so_far + part as u64, Ordering::SeqCst);
                let total = st.total_up.fetch_add(part as u64, Ordering::SeqCst) + part as u64;
                st.progress.send_replace(total);
                return true;
            }
            if uw.write_all(&buf[..n]).await.is_err() {
                return false;
            }
            sent.store(so_far + n as u64, Ordering::SeqCst);
            let total = st.total_up.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
            st.progress.send_replace(total);
        }
    };
    let down = async {
        let _ = tokio::io::copy(&mut ur, &mut cw).await;
    };
    tokio::pin!(up, down);
    let cut = tokio::select! {
        cut = &mut up => {
            if !cut {
                down.await;
            }
            cut
        }
        () = &mut down => false,
    };
    if cut {
        st.cuts.fetch_add(1, Ordering::SeqCst);
    }
}
