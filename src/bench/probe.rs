//! The RTP probe: one UDP socket per expected call on 127.0.0.1, read by a single-threaded
//! tokio runtime on its own thread, every datagram stamped on arrival and fed to the
//! [`JitterMeter`]. The same probe measures voxdesk and the SIPp reference, so its own
//! scheduling noise is in both figures alike.

use std::net::UdpSocket as StdUdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::jitter::{JitterMeter, JitterSummary};
use super::BenchError;

/// Listening sockets and the thread that reads them.
pub struct Probe {
    ports: Vec<u16>,
    meter: Arc<Mutex<JitterMeter>>,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl Probe {
    /// Binds `count` sockets on 127.0.0.1 (ports chosen by the kernel) and starts reading.
    pub fn start(count: usize) -> Result<Probe, BenchError> {
        let mut sockets = Vec::with_capacity(count);
        let mut ports = Vec::with_capacity(count);
        for _ in 0..count {
            let socket = StdUdpSocket::bind("127.0.0.1:0")?;
            socket.set_nonblocking(true)?;
            ports.push(socket.local_addr()?.port());
            sockets.push(socket);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let meter = Arc::new(Mutex::new(JitterMeter::default()));
        let (stop, stopped) = watch::channel(false);
        let shared = meter.clone();
        let thread = std::thread::Builder::new()
            .name("rtp-probe".into())
            .spawn(move || runtime.block_on(read_all(sockets, shared, stopped)))?;
        Ok(Probe {
            ports,
            meter,
            stop,
            thread: Some(thread),
        })
    }

    /// The probe ports, one per expected call.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// Streams seen so far.
    pub fn streams(&self) -> usize {
        self.lock().streams()
    }

    /// Starts the measured window.
    pub fn reset(&self) {
        self.lock().reset();
    }

    /// Figures since the last reset.
    pub fn summary(&self) -> JitterSummary {
        self.lock().summary()
    }

    fn lock(&self) -> MutexGuard<'_, JitterMeter> {
        // A panic while holding the lock cannot leave the meter inconsistent in a way that
        // matters for a printout, so a poisoned lock is still used.
        self.meter.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn read_all(
    sockets: Vec<StdUdpSocket>,
    meter: Arc<Mutex<JitterMeter>>,
    stopped: watch::Receiver<bool>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    for socket in sockets {
        let Ok(socket) = UdpSocket::from_std(socket) else {
            continue;
        };
        tasks.spawn(read_one(socket, meter.clone(), stopped.clone()));
    }
    while tasks.join_next().await.is_some() {}
}

async fn read_one(
    socket: UdpSocket,
    meter: Arc<Mutex<JitterMeter>>,
    mut stopped: watch::Receiver<bool>,
) {
    let port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
    let mut buf = [0u8; 2048];
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let now = Instant::now();
                let Ok((len, _)) = received else { continue };
                let datagram = buf.get(..len).unwrap_or(&[]);
                meter
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .handle_datagram(port, datagram, now);
            }
            _ = stopped.changed() => return,
        }
    }
}

/// A UDP socket that reads and discards the RTP of calls nobody measures (signalling steps,
/// warm-up calls), so their packets do not pile up as receive-buffer drops that would blur the
/// drop counter the bench reports.
pub struct Sink {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sink {
    /// Binds 127.0.0.1:0 and starts discarding.
    pub fn start() -> Result<Sink, BenchError> {
        let socket = StdUdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let port = socket.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("rtp-sink".into())
            .spawn(move || {
                let mut buf = [0u8; 2048];
                while !flag.load(Ordering::Relaxed) {
                    let _ = socket.recv_from(&mut buf);
                }
            })?;
        Ok(Sink {
            port,
            stop,
            thread: Some(thread),
        })
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
