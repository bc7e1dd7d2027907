//! `voxdesk serve`: binds the sockets, starts the SIP endpoint, the call manager and the HTTP
//! API, and drains on SIGTERM/SIGINT (new INVITEs get 503, live calls get their BYE after the
//! grace period, tickets are flushed).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tracing::{error, info};

use crate::acd::desk::DeskHub;
use crate::acd::directory::{decode_overlay, Directory};
use crate::acd::service::AcdHandle;
use crate::acd::AgentsFile;
use crate::api::{self, ApiState};
use crate::call::{self, CallServices, Registry};
use crate::config::{parse_port_range, Config, DialplanConfig, SpeechConfig};
use crate::dialplan::Routes;
use crate::media::ports::PortAllocator;
use crate::media::webrtc::WebrtcConfig;
use crate::sip::auth::Algorithm;
use crate::sip::endpoint::{Endpoint, EndpointConfig};
use crate::sip::registrar::{Account, Registrar, RegistrarConfig};
use crate::sip::transport;
use crate::speech::asr::{AsrConfig, AsrPool};
use crate::speech::{PromptCache, PromptCacheLimits};
use crate::tickets::TicketStore;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A socket could not be bound.
    #[error("cannot bind {what} on {addr}: {source}")]
    Bind {
        /// Which socket.
        what: &'static str,
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The dialplan has errors (one `file:line: message` per line).
    #[error("dialplan errors:\n{0}")]
    Dialplan(String),
    /// The data directory or the ticket store failed.
    #[error("data: {0}")]
    Data(String),
    /// Bad configuration.
    #[error("{0}")]
    Config(String),
}

/// Socket buffer for SIP over UDP: bursts of thousands of requests per second overflow the
/// default ~200 KiB before the endpoint task gets to them, and a lost INVITE costs the caller
/// a 500 ms retransmission. The kernel caps it at `net.core.rmem_max`.
const SIP_UDP_BUFFER: usize = 4 << 20;

fn bind_udp(addr: SocketAddr, buffer: usize) -> std::io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // Best effort: a smaller buffer still works, it only drops sooner.
    let _ = socket.set_recv_buffer_size(buffer);
    let _ = socket.set_send_buffer_size(buffer);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// Binds UDP and TCP on the same port (port 0 picks one free for both).
async fn bind_sip(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), ServerError> {
    let bind_err = |what, source| ServerError::Bind { what, addr, source };
    let udp = bind_udp(addr, SIP_UDP_BUFFER).map_err(|e| bind_err("SIP UDP", e))?;
    let actual = udp.local_addr().map_err(|e| bind_err("SIP UDP", e))?;
    let tcp = TcpListener::bind(actual)
        .await
        .map_err(|e| bind_err("SIP TCP", e))?;
    Ok((udp, tcp))
}

/// The recogniser, or `None` (calls run on keys only) when the model file is absent.
fn load_asr(config: &SpeechConfig) -> Result<Option<Arc<AsrPool>>, ServerError> {
    if !config.model.exists() {
        tracing::warn!(
            model = %config.model.display(),
            "no Whisper model: ask steps will use keys only (run tests/setup.sh to prepare it)"
        );
        return Ok(None);
    }
    let pool = AsrPool::new(
        &config.model,
        AsrConfig {
            workers: config.asr_workers,
            threads_per_worker: config.asr_threads,
            queue: config.asr_queue,
            beam_size: config.asr_beam,
        },
    )
    .map_err(|e| ServerError::Config(e.to_string()))?;
    tracing::info!(
        model = %config.model.display(),
        workers = config.asr_workers,
        threads = config.asr_threads,
        "speech recognition ready"
    );
    Ok(Some(Arc::new(pool)))
}

/// The embedding model for semantic intents, or `None` (and a warning saying why) when it is
/// missing or fails to load: intents then match by keywords.
fn load_embedder(config: &DialplanConfig) -> Option<Arc<crate::bot::embed::Embedder>> {
    let model = &config.embed_model;
    if !model.join("model.safetensors").exists() {
        tracing::warn!(
            "no embedding model at {}: intents match by keywords (tests/setup.sh prepares it)",
            model.display()
        );
        return None;
    }
    match crate::bot::embed::Embedder::load(model) {
        Ok(embedder) => Some(Arc::new(embedder)),
        Err(e) => {
            tracing::warn!(
                "embedding model {}: {e}; intents match by keywords",
                model.display()
            );
            None
        }
    }
}

/// Loads one dialplan and, with an embedder, gives it a semantic bot; example vectors are
/// cached beside the file (`.NAME.vectors.*`).
fn load_dialplan(
    file: &Path,
    embedder: Option<&Arc<crate::bot::embed::Embedder>>,
) -> Result<Arc<crate::dialplan::Dialplan>, ServerError> {
    let mut dialplan =
        crate::dialplan::load_file(file).map_err(|e| ServerError::Dialplan(e.to_string()))?;
    let Some(embedder) = embedder else {
        return Ok(Arc::new(dialplan));
    };
    let started = std::time::Instant::now();
    let cache = file.file_name().map(|name| {
        let mut hidden = std::ffi::OsString::from(".");
        hidden.push(name);
        hidden.push(".vectors");
        file.with_file_name(hidden)
    });
    let faq = dialplan.faq().cloned();
    match crate::bot::Bot::semantic(
        dialplan.intents().declared(),
        dialplan.out_of_scope(),
        faq,
        Arc::clone(embedder),
        cache.as_deref(),
    ) {
        Ok(bot) => {
            dialplan.set_bot(bot);
            tracing::info!(
                dialplan = %file.display(),
                ms = started.elapsed().as_millis() as u64,
                "semantic intents ready"
            );
        }
        Err(e) => tracing::warn!(
            "{}: embedding the examples: {e}; intents match by keywords",
            file.display()
        ),
    }
    Ok(Arc::new(dialplan))
}

/// The default dialplan and one per routed user, sharing one embedding model (and one
/// loaded copy of a file routed from several users).
fn load_routes(config: &DialplanConfig) -> Result<Routes, ServerError> {
    let embedder = load_embedder(config);
    let mut loaded: HashMap<PathBuf, Arc<crate::dialplan::Dialplan>> = HashMap::new();
    let mut load = |file: &Path| -> Result<Arc<crate::dialplan::Dialplan>, ServerError> {
        if let Some(plan) = loaded.get(file) {
            return Ok(Arc::clone(plan));
        }
        let plan = load_dialplan(file, embedder.as_ref())?;
        loaded.insert(file.to_path_buf(), Arc::clone(&plan));
        Ok(plan)
    };
    let mut routes = Routes::single(load(&config.file)?);
    for (user, file) in &config.routes {
        routes.add(user, load(file)?);
        tracing::info!(user, dialplan = %file.display(), "route");
    }
    Ok(routes)
}

/// The agents file, or no agents at all when it does not exist (every `queue` step then takes
/// its `on_full` branch); a file with errors stops the server.
fn load_agents(config: &Config) -> Result<AgentsFile, ServerError> {
    let path = &config.agents.file;
    if !path.exists() {
        tracing::warn!(file = %path.display(), "no agents file: queues have no agents");
        return Ok(AgentsFile {
            realm: crate::acd::file::DEFAULT_REALM.to_string(),
            agents: Vec::new(),
            queues: Vec::new(),
        });
    }
    let file = crate::acd::load_file(path).map_err(|e| ServerError::Config(e.to_string()))?;
    tracing::info!(
        file = %path.display(),
        agents = file.agents.len(),
        queues = file.queues.len(),
        "agents loaded"
    );
    Ok(file)
}

/// The registrar for the agents' phones: their digest hashes, the configured challenge and
/// keepalive.
fn registrar(config: &Config, agents: &AgentsFile) -> Result<Registrar, ServerError> {
    let challenge = config
        .digest_algorithms()
        .map_err(|e| ServerError::Config(e.to_string()))?;
    let mut registrar = Registrar::new(RegistrarConfig {
        realm: agents.realm.clone(),
        keepalive_interval: Duration::from_secs(config.agents.keepalive_secs),
        keepalive_failures: config.agents.keepalive_failures,
        challenge_algorithms: challenge,
        ..RegistrarConfig::default()
    });
    registrar.set_accounts(accounts(agents));
    Ok(registrar)
}

/// The registrar's accounts for a directory: each agent's digest hashes.
fn accounts(agents: &AgentsFile) -> Vec<Account> {
    agents
        .agents
        .iter()
        .map(|a| Account {
            user: a.user.clone(),
            ha1_md5: a.ha1(Algorithm::Md5, &agents.realm),
            ha1_sha256: a.ha1(Algorithm::Sha256, &agents.realm),
        })
        .collect()
}

/// The agents file with the API's stored changes on top (`acd::directory`); a stored row that
/// cannot be read back is left out with a warning.
fn load_directory(tickets: &TicketStore, base: AgentsFile) -> Result<Directory, ServerError> {
    let stored = tickets
        .directory_blocking()
        .map_err(|e| ServerError::Data(e.to_string()))?;
    let (overlay, problems) = decode_overlay(&base.realm, stored.agents, stored.queues);
    for problem in problems {
        tracing::warn!(%problem, "agents and queues from the API");
    }
    let directory = Directory::new(base, overlay);
    let effective = directory.effective();
    info!(
        agents = effective.agents.len(),
        queues = effective.queues.len(),
        "directory: agents file + stored changes"
    );
    Ok(directory)
}

/// Tells the registrar each new directory's accounts (the ACD follows the same `watch`).
async fn follow_accounts(
    mut directory: watch::Receiver<Arc<AgentsFile>>,
    sip: mpsc::Sender<transport::SipCommand>,
) {
    while directory.changed().await.is_ok() {
        let accounts = accounts(&directory.borrow_and_update());
        if sip
            .send(transport::SipCommand::SetAccounts(accounts))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Runs until a termination signal, then drains.
pub async fn run(config: Config) -> Result<(), ServerError> {
    let data = config.data.dir.clone();
    let recordings = data.join("recordings");
    std::fs::create_dir_all(&recordings)
        .map_err(|e| ServerError::Data(format!("{}: {e}", recordings.display())))?;
    let tickets = TicketStore::open(&data.join("tickets.db"))
        .map_err(|e| ServerError::Data(e.to_string()))?;
    let dialplans = load_routes(&config.dialplan)?;
    let directory = load_directory(&tickets, load_agents(&config)?)?;
    let agents = directory.effective().clone();
    let (directory_tx, directory_rx) = watch::channel(Arc::new(agents.clone()));
    let (low, high) = parse_port_range(&config.media.rtp_ports)
        .map_err(|e| ServerError::Config(e.to_string()))?;

    let prompts = PromptCache::with_rate(
        PromptCacheLimits {
            max_entries: config.tts.cache_entries,
            max_samples: config.tts.cache_seconds.saturating_mul(8_000),
        },
        config.tts.rate_wpm,
    )
    .map_err(|e| ServerError::Config(format!("tts: {e}")))?;
    let asr = load_asr(&config.speech)?;
    let (udp, tcp) = bind_sip(config.sip.listen).await?;
    let sip_addr = udp.local_addr().unwrap_or(config.sip.listen);
    let advertised_ip = config.sip.advertise.unwrap_or(match sip_addr.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    });
    let http = TcpListener::bind(config.http.listen)
        .await
        .map_err(|source| ServerError::Bind {
            what: "HTTP",
            addr: config.http.listen,
            source,
        })?;

    let mut endpoint = Endpoint::new(EndpointConfig {
        advertised: SocketAddr::new(advertised_ip, sip_addr.port()),
        max_calls: config.limits.max_calls,
        max_message_size: config.sip.max_message_size,
        retry_after_secs: config.limits.retry_after_secs,
        timers: config.sip_timers(),
    });
    endpoint.set_registrar(registrar(&config, &agents)?);
    let acd = AcdHandle::follow(directory_rx.clone());
    let controls = call::CallControls::default();
    let legs = call::LegRoutes::default();
    let desk = DeskHub::new(
        acd.clone(),
        legs.clone(),
        WebrtcConfig {
            bind_ip: advertised_ip,
        },
        directory_rx.clone(),
    );
    tokio::spawn(forward_turns(tickets.subscribe_turns(), desk.clone()));
    let (event_tx, event_rx) = mpsc::channel(config.limits.sip_queue);
    let (cmd_tx, cmd_rx) = mpsc::channel(config.limits.sip_queue);
    let (drain_tx, drain_rx) = watch::channel(false);
    let registry = Registry::default();
    let grace = Duration::from_secs(config.shutdown.grace_secs);

    let services = Arc::new(CallServices {
        dialplans,
        tickets: tickets.clone(),
        prompts,
        asr,
        ports: PortAllocator::new(low, high),
        media_ip: advertised_ip,
        recordings_dir: recordings,
        sip: cmd_tx,
        registry: registry.clone(),
        draining: drain_rx.clone(),
        acd: acd.clone(),
        legs,
        http_base: format!("http://{}", http.local_addr().unwrap_or(config.http.listen)),
        controls: controls.clone(),
        desk: desk.clone(),
        config,
    });
    let sip_active = Arc::new(AtomicUsize::new(0));
    let sip_task = tokio::spawn(transport::run(
        transport::Sockets {
            udp,
            tcp,
            max_tcp_connections: services.config.limits.max_tcp_connections,
            active_calls: sip_active.clone(),
        },
        endpoint,
        event_tx,
        cmd_rx,
        drain_rx,
    ));
    tokio::spawn(call::run_manager(event_rx, services.clone()));
    tokio::spawn(follow_accounts(directory_rx, services.sip.clone()));

    let draining_flag = Arc::new(AtomicBool::new(false));
    let mut state = ApiState::new(tickets.clone(), Arc::new(registry.clone()))
        .with_acd(acd.clone())
        .with_controls(controls)
        .with_desk(desk)
        .with_directory(api::LiveDirectory::new(directory, directory_tx));
    state.draining = draining_flag.clone();
    state.in_flight = Arc::new(tokio::sync::Semaphore::new(
        services.config.limits.http_in_flight,
    ));
    let (http_stop_tx, mut http_stop_rx) = watch::channel(false);
    let http_addr = http.local_addr().ok();
    let http_task = tokio::spawn(api::serve(http, state, async move {
        let _ = http_stop_rx.wait_for(|stop| *stop).await;
    }));
    info!(sip = %sip_addr, http = ?http_addr, "voxdesk serving");

    wait_for_signal().await;
    info!(
        grace_secs = grace.as_secs(),
        "draining: new calls refused, live calls end after grace"
    );
    draining_flag.store(true, Ordering::SeqCst);
    let _ = drain_tx.send(true);
    // Calls hang up at the grace deadline; allow their BYE transactions a moment to finish.
    let give_up = tokio::time::Instant::now() + grace + Duration::from_secs(5);
    // Wait for the call tasks and for the endpoint's dialogs (our BYEs get their answers).
    while (!registry.is_empty() || sip_active.load(Ordering::Relaxed) > 0)
        && tokio::time::Instant::now() < give_up
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if let Err(e) = tickets.flush_async().await {
        error!(error = %e, "ticket flush failed");
    }
    let _ = http_stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(2), http_task).await;
    sip_task.abort();
    info!("voxdesk stopped");
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Tells the desk about each committed turn, so a page showing a live ticket reloads it when
/// it changes rather than polling. After a lag every live desk ticket is reloaded once.
async fn forward_turns(
    mut turns: tokio::sync::broadcast::Receiver<crate::tickets::TicketId>,
    desk: DeskHub,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match turns.recv().await {
            Ok(ticket) => desk.turn_added(ticket.0),
            Err(RecvError::Lagged(_)) => desk.reload_all(),
            Err(RecvError::Closed) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_new_directory_sets_the_registrars_accounts() {
        let file = |yaml: &str| Arc::new(crate::acd::parse_str(yaml, "t").unwrap());
        let (tx, rx) = watch::channel(file("agents:\n  - {user: alice, password: x}\n"));
        let (sip, mut commands) = mpsc::channel(4);
        let follower = tokio::spawn(follow_accounts(rx, sip));
        tx.send_replace(file(
            "realm: r\nagents:\n  - {user: alice, password: x}\n  - {user: bob, password: y}\n",
        ));
        let Some(transport::SipCommand::SetAccounts(accounts)) = commands.recv().await else {
            panic!("no SetAccounts");
        };
        let users: Vec<_> = accounts.iter().map(|a| a.user.as_str()).collect();
        assert_eq!(users, ["alice", "bob"]);
        let bob = &accounts[1];
        assert_eq!(
            bob.ha1_md5,
            Some(crate::sip::auth::ha1(Algorithm::Md5, "bob", "r", "y"))
        );
        drop(tx);
        follower.await.unwrap();
    }
}
