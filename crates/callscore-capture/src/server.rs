//! The live recording endpoint: a SIP UAS over UDP (tokio) that answers INVITEs (plain or SIPREC)
//! with an SDP answer, receives each offered audio stream on its own RTP port, and writes the call
//! when it ends (BYE, inactivity, maximum duration, or shutdown).
//!
//! One task owns all dialog state and the SIP socket; each RTP port has its own task that owns its
//! [`StreamTrack`], so media work spreads across cores and one call's garbage cannot disturb
//! another's. Finished calls are assembled and written on the blocking pool and announced on the
//! channel given to [`Recorder::run`].

use crate::call::{ensure_writable, AssembledCall, CallRecording, RecordedLeg, WrittenCall};
use crate::sdp::{self, MediaAnswer, MediaOffer};
use crate::sip::{self, Message, Parsed};
use crate::siprec::{self, RecordingMetadata};
use crate::spool::{CallSpool, StreamSpool};
use crate::track::{PayloadMap, StreamTrack, TrackConfig, TrackResult};
use crate::CaptureError;
use callscore_core::{CallMeta, Speaker};
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

/// How the endpoint listens and when it ends calls.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    pub sip_addr: SocketAddr,
    /// Inclusive range of RTP ports; each stream takes an even port (RTCP's odd one is left free).
    pub rtp_ports: (u16, u16),
    pub out_dir: PathBuf,
    /// Address put in SDP answers; defaults to the SIP address (which must then not be 0.0.0.0).
    pub media_ip: Option<IpAddr>,
    /// A call with no SIP or RTP traffic for this long is written and closed.
    pub inactivity_timeout: Duration,
    /// Time between 100 Trying and 200 OK (0: answer at once). While it runs a CANCEL ends the call.
    pub answer_delay: Duration,
    pub track: TrackConfig,
}

impl RecorderConfig {
    pub fn new(sip_addr: SocketAddr, out_dir: PathBuf) -> Self {
        RecorderConfig {
            sip_addr,
            rtp_ports: (20000, 20999),
            out_dir,
            media_ip: None,
            inactivity_timeout: Duration::from_secs(30),
            answer_delay: Duration::ZERO,
            track: TrackConfig::default(),
        }
    }
}

/// Why a call was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Bye,
    Inactivity,
    MaxDuration,
    Shutdown,
    /// Found in the spool at start-up: a recorder before this one was killed mid-call.
    Recovered,
}

/// A call that has ended, and where it was written.
#[derive(Debug)]
pub struct FinishedCall {
    pub call_id: String,
    pub reason: EndReason,
    pub meta: CallMeta,
    pub duration_ms: u64,
    /// Ok(None): the call carried no audio, so nothing was written.
    pub written: Result<Option<WrittenCall>, CaptureError>,
}

/// Counters over the recorder's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RecorderStats {
    pub sip_datagrams: u64,
    pub sip_dropped: u64,
    pub sip_bad_requests: u64,
    pub calls_started: u64,
    pub calls_cancelled: u64,
    pub calls_written: u64,
    pub calls_without_audio: u64,
    pub calls_failed: u64,
    pub peak_concurrent_calls: u64,
    pub rtp_packets: u64,
    pub rtp_from_unexpected_sources: u64,
    pub rtp_not_rtp: u64,
}

#[derive(Default)]
struct Counters {
    rtp_packets: AtomicU64,
    rtp_foreign: AtomicU64,
    rtp_garbage: AtomicU64,
    written: AtomicU64,
    without_audio: AtomicU64,
    failed: AtomicU64,
}

/// Free even ports of the configured range.
struct PortPool {
    free: BTreeSet<u16>,
}

impl PortPool {
    /// `count` ports `p, p+2, …` (consecutive even ports, as SRCs and test tools expect).
    fn take(&mut self, count: usize) -> Option<Vec<u16>> {
        let start = self.free.iter().copied().find(|&p| {
            (0..count).all(|i| {
                p.checked_add(2 * i as u16)
                    .is_some_and(|q| self.free.contains(&q))
            })
        })?;
        let ports: Vec<u16> = (0..count).map(|i| start + 2 * i as u16).collect();
        for p in &ports {
            self.free.remove(p);
        }
        Some(ports)
    }

    fn give_back(&mut self, ports: &[u16]) {
        self.free.extend(ports);
    }
}

/// What a stream task accepts; updated by re-INVITEs.
#[derive(Debug, Clone)]
struct Expect {
    /// Only packets from this address are recorded (None: any).
    source_ip: Option<IpAddr>,
    payloads: PayloadMap,
}

struct Stream {
    port: u16,
    role: Speaker,
    label: Option<String>,
    expect: watch::Sender<Expect>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<TrackResult>,
    /// This stream's index in the call's spool, when it is spooled.
    spooled: Option<usize>,
    last_packet_ms: Arc<AtomicU64>,
    answer: MediaAnswer,
}

enum Phase {
    /// 100 sent; 200 due at the instant.
    Ringing { answer_at: Instant },
    /// 200 sent; retransmitted until the ACK arrives (RFC 3261 section 13.3.1.4).
    Answered {
        ack: bool,
        next_resend: Instant,
        interval: Duration,
        give_up: Instant,
    },
}

struct Call {
    invite: Message,
    peer: SocketAddr,
    our_tag: String,
    phase: Phase,
    /// The last response to the current INVITE, resent for retransmitted INVITEs.
    last_invite_response: Vec<u8>,
    invite_cseq: u32,
    answer_body: Vec<u8>,
    session_version: u64,
    streams: Vec<Stream>,
    offers: Vec<MediaOffer>,
    meta: CallMeta,
    siprec: bool,
    created: Instant,
    last_sip: Instant,
    /// What the call has received, on disk, in case the recorder dies before writing it.
    spool: Option<CallSpool>,
}

/// A bound, not yet running, recording endpoint.
pub struct Recorder {
    config: RecorderConfig,
    sip: Arc<UdpSocket>,
    media_ip: IpAddr,
}

impl Recorder {
    pub async fn bind(config: RecorderConfig) -> Result<Recorder, CaptureError> {
        let (first, last) = config.rtp_ports;
        if first > last || last - first < 1 || first < 1024 {
            return Err(CaptureError::PortRange {
                first,
                last,
                reason: "need at least two ports, all at or above 1024".into(),
            });
        }
        // Before listening: a recorder that cannot write must not answer calls and then throw
        // their audio away.
        ensure_writable(&config.out_dir)?;
        let media_ip = config.media_ip.unwrap_or(config.sip_addr.ip());
        if media_ip.is_unspecified() {
            return Err(CaptureError::PortRange {
                first,
                last,
                reason: format!(
                    "SIP listens on {}; give the address to put in SDP answers (media IP)",
                    config.sip_addr
                ),
            });
        }
        let sip =
            UdpSocket::bind(config.sip_addr)
                .await
                .map_err(|source| CaptureError::BindSip {
                    addr: config.sip_addr,
                    source,
                })?;
        Ok(Recorder {
            config,
            sip: Arc::new(sip),
            media_ip,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.sip.local_addr().unwrap_or(self.config.sip_addr)
    }

    /// Serves until `shutdown` completes, then writes every call still in progress and returns
    /// once all of them are on disk. Each finished call is sent on `finished`.
    pub async fn run(
        self,
        finished: mpsc::UnboundedSender<FinishedCall>,
        shutdown: impl Future<Output = ()>,
    ) -> RecorderStats {
        let (first, last) = self.config.rtp_ports;
        let pool = Arc::new(Mutex::new(PortPool {
            free: (first..=last).filter(|p| p % 2 == 0).collect(),
        }));
        let mut engine = Engine {
            local: self.local_addr(),
            config: self.config,
            media_ip: self.media_ip,
            sip: self.sip,
            pool,
            calls: HashMap::new(),
            ended: HashMap::new(),
            writers: JoinSet::new(),
            finished,
            counters: Arc::new(Counters::default()),
            stats: RecorderStats::default(),
            epoch: Instant::now(),
            next_tag: 0,
            out_dir_state: None,
        };
        engine.recover_spooled().await;
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut buf = vec![0u8; 65_536];
        let sip = engine.sip.clone();
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                received = sip.recv_from(&mut buf) => match received {
                    Ok((n, from)) => engine.on_datagram(&buf[..n], from).await,
                    // ICMP errors from earlier sends surface here on some systems; keep serving.
                    Err(e) => tracing::debug!("SIP socket: {e}"),
                },
                _ = tick.tick() => engine.on_tick().await,
                Some(done) = engine.writers.join_next(), if !engine.writers.is_empty() => {
                    if let Err(e) = done { tracing::error!("call writer task failed: {e}"); }
                }
            }
        }
        let ids: Vec<String> = engine.calls.keys().cloned().collect();
        for id in ids {
            engine.finish(&id, EndReason::Shutdown);
        }
        while let Some(done) = engine.writers.join_next().await {
            if let Err(e) = done {
                tracing::error!("call writer task failed: {e}");
            }
        }
        engine.snapshot()
    }
}

/// Runs a recorder on its own tokio runtime until SIGINT or SIGTERM, then writes the calls in
/// progress and returns. `on_listening` gets the bound SIP address; `on_finished` runs (on a
/// separate thread, in order) for every finished call. This is the entry point for programs that
/// do not run tokio themselves; it installs the process's SIGINT/SIGTERM handling while it runs.
pub fn record_until_signalled(
    config: RecorderConfig,
    on_listening: impl FnOnce(SocketAddr),
    mut on_finished: impl FnMut(FinishedCall) + Send + 'static,
) -> Result<RecorderStats, CaptureError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| CaptureError::Io {
            path: PathBuf::from("tokio runtime"),
            source,
        })?;
    runtime.block_on(async move {
        let recorder = Recorder::bind(config).await?;
        on_listening(recorder.local_addr());
        let (tx, mut rx) = mpsc::unbounded_channel();
        // Consumers (scoring) may block for a long time; they get a thread of their own.
        let consumer = std::thread::spawn(move || {
            while let Some(call) = rx.blocking_recv() {
                on_finished(call);
            }
        });
        let shutdown = async {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{signal, SignalKind};
                match signal(SignalKind::terminate()) {
                    Ok(mut term) => tokio::select! {
                        _ = tokio::signal::ctrl_c() => {},
                        _ = term.recv() => {},
                    },
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
        };
        let stats = recorder.run(tx, shutdown).await;
        let _ = tokio::task::spawn_blocking(move || consumer.join()).await;
        Ok(stats)
    })
}

struct Engine {
    config: RecorderConfig,
    local: SocketAddr,
    media_ip: IpAddr,
    sip: Arc<UdpSocket>,
    pool: Arc<Mutex<PortPool>>,
    calls: HashMap<String, Call>,
    /// Recently closed calls, so a retransmitted BYE still gets its 200.
    ended: HashMap<String, Instant>,
    writers: JoinSet<()>,
    finished: mpsc::UnboundedSender<FinishedCall>,
    counters: Arc<Counters>,
    stats: RecorderStats,
    epoch: Instant,
    next_tag: u64,
    /// When the recording folder was last checked, and what the check found.
    out_dir_state: Option<(Instant, Result<(), String>)>,
}

/// How long a check of the recording folder is trusted: one probe per INVITE would cost a
/// write per call attempt under load; a second-old answer is fresh enough to refuse calls on.
const OUT_DIR_RECHECK: Duration = Duration::from_secs(1);

/// Attempts at writing a finished call before giving up on it (its spool is then kept).
const WRITE_ATTEMPTS: u32 = 3;
const WRITE_RETRY: Duration = Duration::from_secs(2);

const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);

impl Engine {
    /// Writes every call a previous recorder left in the spool, and announces each like a
    /// finished call (reason `Recovered`), before any new call is accepted.
    async fn recover_spooled(&mut self) {
        let out_dir = self.config.out_dir.clone();
        let track = self.config.track.clone();
        let recovered = match tokio::task::spawn_blocking(move || {
            crate::spool::recover(&out_dir, &track)
        })
        .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("recovering spooled calls failed: {e}");
                return;
            }
        };
        for r in recovered {
            let call_id = r
                .call_id
                .clone()
                .unwrap_or_else(|| "(unknown Call-ID)".into());
            match &r.written {
                Ok(Some(w)) => {
                    tracing::warn!(
                        call_id,
                        "recovered a call interrupted by a crash from {}; written as {}",
                        r.spool.display(),
                        w.wav.display()
                    );
                    self.counters.written.fetch_add(1, Ordering::Relaxed);
                }
                Ok(None) => {
                    tracing::warn!(call_id, "a call interrupted by a crash had no audio yet");
                    self.counters.without_audio.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::error!(
                        call_id,
                        "a call interrupted by a crash is lost: {e} (its spool is kept in {})",
                        r.spool.display()
                    );
                    self.counters.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            let _ = self.finished.send(FinishedCall {
                call_id,
                reason: EndReason::Recovered,
                meta: r.meta,
                duration_ms: r.duration_ms,
                written: r.written,
            });
        }
    }

    /// Whether recordings can be written now (checked at most every [`OUT_DIR_RECHECK`]).
    fn out_dir_problem(&mut self) -> Option<String> {
        let now = Instant::now();
        let fresh = self
            .out_dir_state
            .as_ref()
            .is_some_and(|(at, _)| now.duration_since(*at) < OUT_DIR_RECHECK);
        if !fresh {
            let state = ensure_writable(&self.config.out_dir).map_err(|e| e.to_string());
            if let Err(e) = &state {
                tracing::error!("refusing calls: {e}");
            }
            self.out_dir_state = Some((now, state));
        }
        self.out_dir_state
            .as_ref()
            .and_then(|(_, s)| s.as_ref().err().cloned())
    }

    fn snapshot(&self) -> RecorderStats {
        let mut s = self.stats;
        s.rtp_packets = self.counters.rtp_packets.load(Ordering::Relaxed);
        s.rtp_from_unexpected_sources = self.counters.rtp_foreign.load(Ordering::Relaxed);
        s.rtp_not_rtp = self.counters.rtp_garbage.load(Ordering::Relaxed);
        s.calls_written = self.counters.written.load(Ordering::Relaxed);
        s.calls_without_audio = self.counters.without_audio.load(Ordering::Relaxed);
        s.calls_failed = self.counters.failed.load(Ordering::Relaxed);
        s
    }

    async fn send(&self, to: SocketAddr, bytes: &[u8]) {
        if let Err(e) = self.sip.send_to(bytes, to).await {
            tracing::warn!("cannot send SIP to {to}: {e}");
        }
    }

    async fn reply(
        &self,
        to: SocketAddr,
        request: &Message,
        code: u16,
        tag: Option<&str>,
        extra: &[(&str, String)],
    ) -> Vec<u8> {
        let bytes = sip::response(request, code, tag, extra, None);
        self.send(to, &bytes).await;
        bytes
    }

    async fn on_datagram(&mut self, data: &[u8], from: SocketAddr) {
        self.stats.sip_datagrams += 1;
        let message = match sip::parse(data) {
            Parsed::Message(m) => m,
            Parsed::BadRequest(m, reason) => {
                self.stats.sip_bad_requests += 1;
                // Debug, not info: anyone can send garbage to a SIP port, and one log line per
                // datagram would let them flood the log (the count is in the recorder's stats).
                tracing::debug!("400 to {from}: {reason}");
                if m.header("Via").is_some() && m.method() != Some("ACK") {
                    self.reply(
                        from,
                        &m,
                        400,
                        None,
                        &[(
                            "Warning",
                            format!("399 callscore \"{}\"", reason.replace('"', "'")),
                        )],
                    )
                    .await;
                }
                return;
            }
            Parsed::Garbage(reason) => {
                self.stats.sip_dropped += 1;
                tracing::debug!("dropped datagram from {from}: {reason}");
                return;
            }
        };
        let Some(method) = message.method().map(str::to_string) else {
            // Responses: the recorder sends no requests, so there is nothing to match them to.
            return;
        };
        let call_id = message.call_id().unwrap_or_default().to_string();
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.last_sip = Instant::now();
        }
        match method.as_str() {
            "INVITE" => self.on_invite(message, from, call_id).await,
            "ACK" => {
                if let Some(call) = self.calls.get_mut(&call_id) {
                    if let Phase::Answered { ack, .. } = &mut call.phase {
                        *ack = true;
                    }
                }
            }
            "BYE" => {
                let known = self.calls.get(&call_id).map(|c| c.our_tag.clone());
                if let Some(tag) = known {
                    self.reply(from, &message, 200, Some(&tag), &[]).await;
                    self.finish(&call_id, EndReason::Bye);
                } else if self.ended.contains_key(&call_id) {
                    self.reply(from, &message, 200, None, &[]).await;
                } else {
                    self.reply(from, &message, 481, None, &[]).await;
                }
            }
            "CANCEL" => self.on_cancel(message, from, call_id).await,
            "OPTIONS" => {
                let tag = self.new_tag();
                let extra = [
                    ("Allow", sip::ALLOW.to_string()),
                    ("Accept", sip::ACCEPT.to_string()),
                    ("Supported", sip::SUPPORTED.join(", ")),
                ];
                self.reply(from, &message, 200, Some(&tag), &extra).await;
            }
            m if rsip::Method::all().iter().any(|k| k.to_string() == m) => {
                let tag = self.new_tag();
                self.reply(
                    from,
                    &message,
                    405,
                    Some(&tag),
                    &[("Allow", sip::ALLOW.to_string())],
                )
                .await;
            }
            _ => {
                let tag = self.new_tag();
                self.reply(
                    from,
                    &message,
                    501,
                    Some(&tag),
                    &[("Allow", sip::ALLOW.to_string())],
                )
                .await;
            }
        }
    }

    fn new_tag(&mut self) -> String {
        self.next_tag += 1;
        format!(
            "cs{:x}{:x}",
            self.epoch.elapsed().as_micros() as u64 & 0xFFFF_FFFF,
            self.next_tag
        )
    }

    async fn on_invite(&mut self, invite: Message, from: SocketAddr, call_id: String) {
        let cseq = invite.cseq().map(|(n, _)| n).unwrap_or(0);
        if let Some(call) = self.calls.get(&call_id) {
            if cseq <= call.invite_cseq {
                // A retransmission: the same answer again.
                let bytes = call.last_invite_response.clone();
                self.send(from, &bytes).await;
                return;
            }
            return self.on_reinvite(invite, from, call_id, cseq).await;
        }
        if invite.tag_of("To").is_some() {
            // A re-INVITE for a dialog this recorder does not have.
            return drop(self.reply(from, &invite, 481, None, &[]).await);
        }
        let tag = self.new_tag();
        let unsupported = invite.unsupported_requirements();
        if !unsupported.is_empty() {
            self.reply(
                from,
                &invite,
                420,
                Some(&tag),
                &[("Unsupported", unsupported.join(", "))],
            )
            .await;
            return;
        }
        let (offers, metadata) = match read_offer(&invite) {
            Ok(x) => x,
            Err(reason) => {
                tracing::info!("488 to {from} for {call_id}: {reason}");
                self.reply(
                    from,
                    &invite,
                    488,
                    Some(&tag),
                    &[("Warning", format!("399 callscore \"{reason}\""))],
                )
                .await;
                return;
            }
        };
        let recordable: Vec<&MediaOffer> = offers
            .iter()
            .filter(|o| o.is_audio && o.address.is_some() && o.codec.is_some())
            .collect();
        if recordable.is_empty() {
            self.reply(
                from,
                &invite,
                488,
                Some(&tag),
                &[(
                    "Warning",
                    "399 callscore \"no audio stream in PCMU or PCMA\"".into(),
                )],
            )
            .await;
            return;
        }
        if let Some(problem) = self.out_dir_problem() {
            // 503 lets the PBX or SBC send the recording elsewhere or retry later; a 200 OK here
            // would accept audio that has nowhere to go.
            let warning = format!(
                "399 callscore \"cannot write recordings: {}\"",
                problem.replace('"', "'")
            );
            self.reply(
                from,
                &invite,
                503,
                Some(&tag),
                &[("Retry-After", "30".into()), ("Warning", warning)],
            )
            .await;
            return;
        }
        let Some(sockets) = self.open_ports(recordable.len()).await else {
            self.reply(
                from,
                &invite,
                503,
                Some(&tag),
                &[("Retry-After", "5".into())],
            )
            .await;
            return;
        };
        self.reply(from, &invite, 100, None, &[]).await;
        let now = Instant::now();
        let mut meta = CallMeta {
            call_id: Some(call_id.clone()),
            from: invite.header("From").map(strip_tag),
            to: invite.header("To").map(strip_tag),
            started_at: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .ok(),
            ..Default::default()
        };
        if let Some(m) = &metadata {
            meta.caller_name = m.name_of(Speaker::Caller);
            meta.agent = m.name_of(Speaker::Agent);
        }
        let mut spool = match CallSpool::create(&self.config.out_dir, &meta) {
            Ok(s) => Some(s),
            Err(e) => {
                // The folder passed its check a moment ago; record anyway (the audio is kept in
                // memory), but a crash during this call would lose it.
                tracing::error!(call_id, "cannot spool the call: {e}");
                None
            }
        };
        let mut streams = Vec::new();
        let mut sockets = sockets.into_iter();
        for offer in &offers {
            if !recordable.iter().any(|r| r.index == offer.index) {
                continue;
            }
            let Some((port, socket)) = sockets.next() else {
                break;
            };
            let role = match (&metadata, &offer.label) {
                (Some(m), Some(label)) => m
                    .sender_of_label(label)
                    .map(|(r, _)| r)
                    .unwrap_or(Speaker::Unknown),
                _ => Speaker::Unknown,
            };
            streams.push(self.start_stream(
                port,
                socket,
                offer,
                role,
                from.ip(),
                now,
                spool.as_mut(),
                &call_id,
            ));
        }
        let mut call = Call {
            invite,
            peer: from,
            our_tag: tag,
            phase: Phase::Ringing {
                answer_at: now + self.config.answer_delay,
            },
            last_invite_response: Vec::new(),
            invite_cseq: cseq,
            answer_body: Vec::new(),
            session_version: 1,
            streams,
            offers,
            meta,
            siprec: metadata.is_some(),
            created: now,
            last_sip: now,
            spool,
        };
        call.answer_body = self.answer_sdp(&call).into_bytes();
        call.last_invite_response = sip::response(&call.invite, 100, None, &[], None);
        self.stats.calls_started += 1;
        tracing::info!(
            call_id,
            streams = call.streams.len(),
            siprec = call.siprec,
            "call started"
        );
        self.calls.insert(call_id.clone(), call);
        self.stats.peak_concurrent_calls = self
            .stats
            .peak_concurrent_calls
            .max(self.calls.len() as u64);
        if self.config.answer_delay.is_zero() {
            self.answer(&call_id).await;
        }
    }

    async fn on_reinvite(&mut self, invite: Message, from: SocketAddr, call_id: String, cseq: u32) {
        let offers = match read_offer(&invite) {
            Ok((offers, _)) => offers,
            Err(reason) => {
                let tag = self.calls.get(&call_id).map(|c| c.our_tag.clone());
                self.reply(
                    from,
                    &invite,
                    488,
                    tag.as_deref(),
                    &[("Warning", format!("399 callscore \"{reason}\""))],
                )
                .await;
                return;
            }
        };
        // New streams beyond those already open need ports.
        let have = self.calls.get(&call_id).map_or(0, |c| c.streams.len());
        let recordable: Vec<MediaOffer> = offers
            .iter()
            .filter(|o| o.is_audio && o.address.is_some() && o.codec.is_some())
            .cloned()
            .collect();
        let extra = if recordable.len() > have {
            self.open_ports(recordable.len() - have)
                .await
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let now = Instant::now();
        let Some(mut call) = self.calls.remove(&call_id) else {
            return;
        };
        let mut extra = extra.into_iter();
        for (i, offer) in recordable.iter().enumerate() {
            if let Some(stream) = call.streams.get_mut(i) {
                stream.expect.send_replace(Expect {
                    source_ip: offer.address.map(|a| a.ip()),
                    payloads: offer.payloads.clone(),
                });
                if let (Some(spool), Some(n)) = (call.spool.as_mut(), stream.spooled) {
                    if let Err(e) = spool.set_payloads(n, &offer.payloads) {
                        tracing::warn!(call_id, "cannot update the call's spool: {e}");
                    }
                }
                if let Some(codec) = offer.codec {
                    stream.answer = MediaAnswer::Receive {
                        port: stream.port,
                        codec,
                        telephone_event: offer.telephone_event,
                    };
                }
                stream.label = offer.label.clone().or(stream.label.take());
            } else if let Some((port, socket)) = extra.next() {
                let role = Speaker::Unknown;
                let s = self.start_stream(
                    port,
                    socket,
                    offer,
                    role,
                    from.ip(),
                    call.created,
                    call.spool.as_mut(),
                    &call_id,
                );
                call.streams.push(s);
            }
        }
        call.offers = offers;
        call.invite = invite;
        call.invite_cseq = cseq;
        call.session_version += 1;
        call.answer_body = self.answer_sdp(&call).into_bytes();
        call.phase = Phase::Ringing { answer_at: now };
        self.calls.insert(call_id.clone(), call);
        self.answer(&call_id).await;
    }

    async fn on_cancel(&mut self, cancel: Message, from: SocketAddr, call_id: String) {
        let ringing = self
            .calls
            .get(&call_id)
            .map(|c| (matches!(c.phase, Phase::Ringing { .. }), c.our_tag.clone()));
        match ringing {
            None => {
                self.reply(from, &cancel, 481, None, &[]).await;
            }
            Some((false, tag)) => {
                // Already answered: the CANCEL has no effect on the call (RFC 3261 section 9.2).
                self.reply(from, &cancel, 200, Some(&tag), &[]).await;
            }
            Some((true, tag)) => {
                self.reply(from, &cancel, 200, Some(&tag), &[]).await;
                if let Some(mut call) = self.calls.remove(&call_id) {
                    let bytes = sip::response(&call.invite, 487, Some(&tag), &[], None);
                    self.send(call.peer, &bytes).await;
                    for s in &mut call.streams {
                        if let Some(stop) = s.stop.take() {
                            let _ = stop.send(());
                        }
                    }
                    let ports: Vec<u16> = call.streams.iter().map(|s| s.port).collect();
                    if let Ok(mut pool) = self.pool.lock() {
                        pool.give_back(&ports);
                    }
                    self.stats.calls_cancelled += 1;
                    self.ended.insert(call_id, Instant::now());
                }
            }
        }
    }

    /// Sends (or resends) the 200 OK with the SDP answer.
    async fn answer(&mut self, call_id: &str) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let mut contact = format!("<sip:callscore@{}>", self.local);
        if call.siprec {
            contact.push_str(";+sip.srs");
        }
        let mut extra = vec![("Contact", contact), ("Allow", sip::ALLOW.to_string())];
        if call.siprec {
            extra.push(("Require", "siprec".to_string()));
        }
        let bytes = sip::response(
            &call.invite,
            200,
            Some(&call.our_tag),
            &extra,
            Some(("application/sdp", &call.answer_body)),
        );
        call.last_invite_response = bytes.clone();
        let now = Instant::now();
        call.phase = Phase::Answered {
            ack: false,
            next_resend: now + T1,
            interval: T1,
            give_up: now + 64 * T1,
        };
        let peer = call.peer;
        self.send(peer, &bytes).await;
    }

    fn answer_sdp(&self, call: &Call) -> String {
        let answers: Vec<MediaAnswer> = call
            .offers
            .iter()
            .map(|o| {
                call.streams
                    .iter()
                    .find(|s| s.label == o.label && s.label.is_some())
                    .or_else(|| {
                        // Unlabelled streams are matched by order among the recordable offers.
                        let nth = call
                            .offers
                            .iter()
                            .filter(|x| x.is_audio && x.address.is_some() && x.codec.is_some())
                            .position(|x| x.index == o.index)?;
                        call.streams
                            .get(nth)
                            .filter(|s| s.label.is_none() || o.label.is_none())
                    })
                    .filter(|_| o.is_audio && o.address.is_some() && o.codec.is_some())
                    .map(|s| s.answer.clone())
                    .unwrap_or(MediaAnswer::Reject)
            })
            .collect();
        sdp::write_answer(self.media_ip, call.session_version, &call.offers, &answers)
    }

    async fn open_ports(&mut self, count: usize) -> Option<Vec<(u16, UdpSocket)>> {
        // A port another program holds is skipped; a few tries find a free block.
        for _ in 0..8 {
            let ports = self.pool.lock().ok()?.take(count)?;
            let mut sockets = Vec::new();
            for &p in &ports {
                match UdpSocket::bind(SocketAddr::new(self.config.sip_addr.ip(), p)).await {
                    Ok(s) => sockets.push((p, s)),
                    Err(e) => {
                        tracing::warn!("RTP port {p} is not free: {e}");
                        break;
                    }
                }
            }
            if sockets.len() == ports.len() {
                return Some(sockets);
            }
            // Keep the port that failed out of the pool; return the others.
            let bound: Vec<u16> = sockets.iter().map(|(p, _)| *p).collect();
            if let Ok(mut pool) = self.pool.lock() {
                pool.give_back(&bound);
            }
        }
        None
    }

    #[allow(clippy::too_many_arguments)]
    fn start_stream(
        &self,
        port: u16,
        socket: UdpSocket,
        offer: &MediaOffer,
        role: Speaker,
        signalling_ip: IpAddr,
        call_start: Instant,
        spool: Option<&mut CallSpool>,
        call_id: &str,
    ) -> Stream {
        let source_ip = offer
            .address
            .map(|a| a.ip())
            .filter(|ip| !ip.is_unspecified())
            .or(Some(signalling_ip));
        let (expect_tx, expect_rx) = watch::channel(Expect {
            source_ip,
            payloads: offer.payloads.clone(),
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let last_packet_ms = Arc::new(AtomicU64::new(0));
        let track = StreamTrack::new(offer.payloads.clone(), self.config.track.clone());
        let (spooled, stream_spool) = match spool {
            Some(spool) => match spool.add_stream(role, &offer.payloads) {
                Ok(s) => (Some(spool.stream_count() - 1), Some(s)),
                Err(e) => {
                    tracing::error!(call_id, "cannot spool a stream: {e}");
                    (None, None)
                }
            },
            None => (None, None),
        };
        let task = tokio::spawn(receive(
            socket,
            expect_rx,
            stop_rx,
            call_start,
            self.epoch,
            last_packet_ms.clone(),
            self.counters.clone(),
            track,
            stream_spool,
            call_id.to_string(),
        ));
        let codec = offer.codec.unwrap_or((0, crate::g711::G711::Ulaw));
        Stream {
            port,
            role,
            label: offer.label.clone(),
            expect: expect_tx,
            stop: Some(stop_tx),
            task,
            spooled,
            last_packet_ms,
            answer: MediaAnswer::Receive {
                port,
                codec,
                telephone_event: offer.telephone_event,
            },
        }
    }

    async fn on_tick(&mut self) {
        let now = Instant::now();
        let mut due_answers = Vec::new();
        let mut resends = Vec::new();
        let mut idle = Vec::new();
        let mut too_long = Vec::new();
        for (id, call) in &mut self.calls {
            match &mut call.phase {
                Phase::Ringing { answer_at } if *answer_at <= now => due_answers.push(id.clone()),
                Phase::Answered {
                    ack: false,
                    next_resend,
                    interval,
                    give_up,
                } if *next_resend <= now && now < *give_up => {
                    *interval = (*interval * 2).min(T2);
                    *next_resend = now + *interval;
                    resends.push((call.peer, call.last_invite_response.clone()));
                }
                _ => {}
            }
            let last_rtp = call
                .streams
                .iter()
                .map(|s| s.last_packet_ms.load(Ordering::Relaxed))
                .max()
                .unwrap_or(0);
            let last_rtp = self.epoch + Duration::from_millis(last_rtp);
            let last = call.last_sip.max(last_rtp);
            if now.duration_since(last) > self.config.inactivity_timeout {
                idle.push(id.clone());
            } else if now.duration_since(call.created) > self.config.track.max_duration {
                too_long.push(id.clone());
            }
        }
        for id in due_answers {
            self.answer(&id).await;
        }
        for (peer, bytes) in resends {
            self.send(peer, &bytes).await;
        }
        for id in idle {
            tracing::info!(
                call_id = id,
                "no traffic for {:?}: closing the call",
                self.config.inactivity_timeout
            );
            self.finish(&id, EndReason::Inactivity);
        }
        for id in too_long {
            self.finish(&id, EndReason::MaxDuration);
        }
        self.ended.retain(|_, at| now.duration_since(*at) < 64 * T1);
    }

    /// Stops the call's streams and writes it in the background.
    fn finish(&mut self, call_id: &str, reason: EndReason) {
        let Some(mut call) = self.calls.remove(call_id) else {
            return;
        };
        self.ended.insert(call_id.to_string(), Instant::now());
        for s in &mut call.streams {
            if let Some(stop) = s.stop.take() {
                let _ = stop.send(());
            }
        }
        let out_dir = self.config.out_dir.clone();
        let pool = self.pool.clone();
        let finished = self.finished.clone();
        let counters = self.counters.clone();
        let call_id = call_id.to_string();
        self.writers.spawn(async move {
            let mut legs = Vec::new();
            let mut ports = Vec::new();
            for s in call.streams {
                ports.push(s.port);
                match s.task.await {
                    Ok(track) => legs.push(RecordedLeg {
                        role: s.role,
                        track,
                    }),
                    Err(e) => tracing::error!("stream task on port {} failed: {e}", s.port),
                }
            }
            if let Ok(mut pool) = pool.lock() {
                pool.give_back(&ports);
            }
            let recording = CallRecording {
                meta: call.meta.clone(),
                legs,
            };
            let (written, duration_ms, meta) = write_call(recording, &out_dir, &call_id).await;
            match (&written, call.spool) {
                // Written, or nothing to write: the spool has done its job.
                (Ok(_), Some(spool)) => {
                    let dir = spool.dir().to_path_buf();
                    if let Err(e) = spool.remove() {
                        tracing::warn!(call_id, "cannot remove the spool {}: {e}", dir.display());
                    }
                }
                (Err(e), Some(spool)) => tracing::error!(
                    call_id,
                    "the call could not be written ({e}); what was received is kept in {} and \
                     is written when the recorder next starts",
                    spool.dir().display()
                ),
                (Err(e), None) => {
                    tracing::error!(call_id, "the call could not be written and is lost: {e}")
                }
                (Ok(_), None) => {}
            }
            match &written {
                Ok(Some(_)) => counters.written.fetch_add(1, Ordering::Relaxed),
                Ok(None) => counters.without_audio.fetch_add(1, Ordering::Relaxed),
                Err(_) => counters.failed.fetch_add(1, Ordering::Relaxed),
            };
            let _ = finished.send(FinishedCall {
                call_id,
                reason,
                meta: meta.unwrap_or(call.meta),
                duration_ms,
                written,
            });
        });
    }
}

/// Assembles and writes a finished call on the blocking pool, trying again a few times when the
/// disk is full or the folder is gone for a moment.
async fn write_call(
    recording: CallRecording,
    out_dir: &std::path::Path,
    call_id: &str,
) -> (
    Result<Option<WrittenCall>, CaptureError>,
    u64,
    Option<CallMeta>,
) {
    let assembled: Option<AssembledCall> =
        match tokio::task::spawn_blocking(move || recording.assemble()).await {
            Ok(a) => a,
            Err(e) => return (Err(join_error(call_id, e)), 0, None),
        };
    let Some(assembled) = assembled else {
        return (Ok(None), 0, None);
    };
    let assembled = Arc::new(assembled);
    let mut attempt = 1;
    loop {
        let (a, dir) = (assembled.clone(), out_dir.to_path_buf());
        let result = match tokio::task::spawn_blocking(move || a.write(&dir)).await {
            Ok(r) => r,
            Err(e) => Err(join_error(call_id, e)),
        };
        match result {
            Ok(w) => {
                return (
                    Ok(Some(w)),
                    assembled.duration_ms,
                    Some(assembled.meta.clone()),
                )
            }
            Err(e) if attempt < WRITE_ATTEMPTS => {
                tracing::warn!(
                    call_id,
                    "cannot write the call (attempt {attempt} of {WRITE_ATTEMPTS}): {e}"
                );
                attempt += 1;
                tokio::time::sleep(WRITE_RETRY).await;
            }
            Err(e) => return (Err(e), assembled.duration_ms, Some(assembled.meta.clone())),
        }
    }
}

fn join_error(call_id: &str, e: tokio::task::JoinError) -> CaptureError {
    CaptureError::Io {
        path: PathBuf::from(call_id),
        source: std::io::Error::other(e.to_string()),
    }
}

/// The call's offer: from an SDP body, or from a SIPREC multipart body with its metadata.
pub(crate) fn read_offer(
    invite: &Message,
) -> Result<(Vec<MediaOffer>, Option<RecordingMetadata>), String> {
    let Some((content_type, full)) = invite.content_type() else {
        return Err("INVITE without an SDP offer (offerless INVITEs cannot be recorded)".into());
    };
    let (sdp_bytes, metadata) = match content_type.as_str() {
        "application/sdp" => (invite.body.clone(), None),
        "multipart/mixed" => {
            let parts = siprec::split_multipart(full, &invite.body).map_err(|e| e.to_string())?;
            let sdp = parts
                .iter()
                .find(|p| p.content_type == "application/sdp")
                .ok_or("multipart body without an application/sdp part")?;
            let metadata = match parts
                .iter()
                .find(|p| p.content_type == "application/rs-metadata+xml")
            {
                Some(p) => Some(
                    RecordingMetadata::parse(&String::from_utf8_lossy(&p.body))
                        .map_err(|e| e.to_string())?,
                ),
                None => None,
            };
            (sdp.body.clone(), metadata)
        }
        other => return Err(format!("unsupported body type {other}")),
    };
    let text = String::from_utf8(sdp_bytes).map_err(|_| "SDP is not UTF-8".to_string())?;
    let offers = sdp::parse_offer(&text).map_err(|e| e.to_string())?;
    Ok((offers, metadata))
}

/// A From/To header value without its tag (the sidecar names parties, not dialogs).
pub(crate) fn strip_tag(value: &str) -> String {
    let (addr, params) = match value.rfind('>') {
        Some(i) => (&value[..=i], &value[i + 1..]),
        None => (value, ""),
    };
    let kept: Vec<&str> = params
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty() && !p.to_ascii_lowercase().starts_with("tag="))
        .collect();
    let addr = if value.contains('>') {
        addr.to_string()
    } else {
        addr.split(";tag=").next().unwrap_or(addr).to_string()
    };
    if kept.is_empty() {
        addr.trim().to_string()
    } else {
        format!("{};{}", addr.trim(), kept.join(";"))
    }
}

/// One RTP port: receives until told to stop, then drains what is already queued.
#[allow(clippy::too_many_arguments)]
async fn receive(
    socket: UdpSocket,
    expect: watch::Receiver<Expect>,
    mut stop: oneshot::Receiver<()>,
    call_start: Instant,
    epoch: Instant,
    last_packet_ms: Arc<AtomicU64>,
    counters: Arc<Counters>,
    mut track: StreamTrack,
    mut spool: Option<StreamSpool>,
    call_id: String,
) -> TrackResult {
    let mut buf = vec![0u8; 2048];
    let mut payloads_version = expect.borrow().payloads.clone();
    let mut take = |track: &mut StreamTrack, data: &[u8], from: SocketAddr, at: Instant| {
        let e = expect.borrow();
        if e.payloads != payloads_version {
            payloads_version = e.payloads.clone();
            track.set_payloads(e.payloads.clone());
        }
        counters.rtp_packets.fetch_add(1, Ordering::Relaxed);
        if e.source_ip.is_some_and(|ip| ip != from.ip()) {
            counters.rtp_foreign.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if !crate::rtp::looks_like_rtp(data) {
            counters.rtp_garbage.fetch_add(1, Ordering::Relaxed);
            return;
        }
        last_packet_ms.store(
            at.duration_since(epoch).as_millis() as u64,
            Ordering::Relaxed,
        );
        let arrival = at.duration_since(call_start);
        track.push(arrival, data);
        if let Some(e) = spool.as_mut().and_then(|s| s.append(arrival, data)) {
            // The audio is still kept in memory and written at the end of the call; only its
            // protection against a crash is gone.
            tracing::error!(call_id, "spooling stopped: {e}");
        }
    };
    loop {
        tokio::select! {
            _ = &mut stop => break,
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, from)) => take(&mut track, &buf[..n], from, Instant::now()),
                Err(e) => tracing::debug!("RTP socket: {e}"),
            }
        }
    }
    while let Ok((n, from)) = socket.try_recv_from(&mut buf) {
        take(&mut track, &buf[..n], from, Instant::now());
    }
    if let Some(e) = spool.as_mut().and_then(StreamSpool::flush) {
        tracing::error!(call_id, "spooling stopped: {e}");
    }
    track.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_pool_hands_out_consecutive_even_ports() {
        let mut pool = PortPool {
            free: (20000..=20010).filter(|p| p % 2 == 0).collect(),
        };
        assert_eq!(pool.take(2), Some(vec![20000, 20002]));
        assert_eq!(pool.take(1), Some(vec![20004]));
        pool.give_back(&[20000]);
        assert_eq!(pool.take(2), Some(vec![20006, 20008]));
        assert_eq!(pool.take(2), None);
        assert_eq!(pool.take(1), Some(vec![20000]));
    }

    #[test]
    fn strips_dialog_tags() {
        assert_eq!(
            strip_tag("sipp <sip:sipp@127.0.0.1:5061>;tag=123SIPpTag01"),
            "sipp <sip:sipp@127.0.0.1:5061>"
        );
        assert_eq!(strip_tag("<sip:a@b>;tag=x;foo=bar"), "<sip:a@b>;foo=bar");
        assert_eq!(strip_tag("sip:a@b;tag=x"), "sip:a@b");
    }
}
