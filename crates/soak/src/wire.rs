//! A TCP proxy on loopback between the nodes and the hub process that applies a
//! fault plan to each new connection: cut after a number of bytes in either
//! direction, delay every chunk, or stall once for a while after some bytes.
//! It follows the hub to a new port after a restart.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What to do to the connections opened while it is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Cut the connection once this many node-to-hub bytes have passed.
    pub(crate) cut_up_after: Option<u64>,
    /// Cut the connection once this many hub-to-node bytes have passed.
    pub(crate) cut_down_after: Option<u64>,
    /// Hold every chunk this long before forwarding it (both directions).
    pub(crate) delay: Option<Duration>,
    /// After this many node-to-hub bytes, stop forwarding for the duration (once).
    pub(crate) stall: Option<(u64, Duration)>,
}

#[derive(Debug)]
struct State {
    upstream: Mutex<SocketAddr>,
    plan: Mutex<Plan>,
    up: AtomicU64,
    cuts: AtomicU32,
    progress: tokio::sync::watch::Sender<u64>,
}

/// A running proxy.
#[derive(Debug, Clone)]
pub(crate) struct FaultProxy {
    /// Where nodes connect.
    pub(crate) addr: SocketAddr,
    state: Arc<State>,
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:0` forwarding to `hub`.
    pub(crate) async fn start(hub: SocketAddr) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            upstream: Mutex::new(hub),
            plan: Mutex::new(Plan::default()),
            up: AtomicU64::new(0),
            cuts: AtomicU32::new(0),
            progress: tokio::sync::watch::channel(0).0,
        });
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let st = st.clone();
                let hub = *st.upstream.lock().unwrap_or_else(PoisonError::into_inner);
                let plan = *st.plan.lock().unwrap_or_else(PoisonError::into_inner);
                tokio::spawn(async move {
                    if let Ok(upstream) = TcpStream::connect(hub).await {
                        let _ = client.set_nodelay(true);
                        let _ = upstream.set_nodelay(true);
                        pipe(client, upstream, plan, st).await;
                    }
                });
            }
        });
        Ok(FaultProxy { addr, state })
    }

    /// Sends new connections to `hub`.
    pub(crate) fn retarget(&self, hub: SocketAddr) {
        *self.state.upstream.lock().unwrap_or_else(PoisonError::into_inner) = hub;
    }

    /// The plan for new connections (`Plan::default()`: forward faithfully).
    pub(crate) fn set_plan(&self, plan: Plan) {
        *self.state.plan.lock().unwrap_or_else(PoisonError::into_inner) = plan;
    }

    /// Node-to-hub bytes so far, all connections.
    pub(crate) fn bytes_up(&self) -> u64 {
        self.state.up.load(Ordering::SeqCst)
    }

    /// Waits until at least `bytes` node-to-hub bytes have passed in all.
    pub(crate) async fn wait_for_bytes(&self, bytes: u64) {
        let mut rx = self.state.progress.subscribe();
        let _ = rx.wait_for(|n| *n >= bytes).await;
    }

    /// Connections cut so far.
    pub(crate) fn cuts(&self) -> u32 {
        self.state.cuts.load(Ordering::SeqCst)
    }
}

/// Copies one direction; returns `true` if it cut the connection.
async fn copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    cut_after: Option<u64>,
    delay: Option<Duration>,
    mut stall: Option<(u64, Duration)>,
    st: Option<Arc<State>>,
) -> bool {
    let limit = cut_after.unwrap_or(u64::MAX);
    let mut sent = 0u64;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return false;
            }
            Ok(n) => n,
        };
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        if let Some((after, pause)) = stall
            && sent + n as u64 >= after
        {
            tokio::time::sleep(pause).await;
            stall = None;
        }
        let room = limit - sent;
        let part = if (n as u64) >= room { usize::try_from(room).unwrap_or(n) } else { n };
        if to.write_all(&buf[..part]).await.is_err() {
            return false;
        }
        sent += part as u64;
        if let Some(st) = &st {
            let total = st.up.fetch_add(part as u64, Ordering::SeqCst) + part as u64;
            st.progress.send_replace(total);
        }
        if part < n || sent >= limit {
            return true;
        }
    }
}

async fn pipe(client: TcpStream, upstream: TcpStream, plan: Plan, st: Arc<State>) {
    let (cr, cw) = client.into_split();
    let (ur, uw) = upstream.into_split();
    let up = copy(cr, uw, plan.cut_up_after, plan.delay, plan.stall, Some(st.clone()));
    let down = copy(ur, cw, plan.cut_down_after, plan.delay, None, None);
    tokio::pin!(up, down);
    let cut = tokio::select! {
        cut = &mut up => if cut { true } else { down.await },
        cut = &mut down => cut,
    };
    if cut {
        st.cuts.fetch_add(1, Ordering::SeqCst);
    }
}
