//! A SIP user agent client (UAC) over UDP that places one call: INVITE with an SDP offer
//! (PCMU, PCMA, telephone-event), provisional responses, the answer or the refusal, ACK, a
//! CANCEL when nobody answers within the ring timeout, and BYE at the end (or a 200 to the far
//! end's BYE). Requests are retransmitted over UDP with RFC 3261's timers: INVITE on Timer A
//! (T1 doubling) until a provisional or final response, up to Timer B (64·T1); CANCEL and BYE on
//! Timer E (T1 doubling, capped at T2) up to Timer F (64·T1).
//!
//! Media runs on the call clock, whose zero is the moment the answer arrived. Every 20 ms the
//! [`CallDriver`] is asked what to send and shown what has been heard so far (the far end's
//! audio, received through the jitter buffer of a [`StreamTrack`]); the frames sent are kept as
//! the near leg, so both legs come back aligned.
//!
//! Every attempt comes back as a [`PlacedCall`], whatever happened (busy, no answer, refused,
//! no response): only a local failure (a bad URI, no socket) is an error.
//!
//! Simplifications, because the client calls one business number directly: every request goes
//! to the target's address (which acts as the outbound proxy); the route set of a
//! `Record-Route` is sent as `Route` (loose routing only); no authentication challenges (a 401
//! or 407 is a refusal); early media (183 with SDP) is not recorded.

use crate::g711::G711;
use crate::rtp_sender::{RtpSender, RtpStart, FRAME_SAMPLES};
use crate::sdp;
use crate::sip::{self, Message, Parsed, StartLine};
use crate::track::{PayloadMap, StreamTrack, TrackConfig, TrackResult};
use crate::CaptureError;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant, SystemTime};
use tokio::net::UdpSocket;
use tokio::time::sleep_until;

const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);
/// The length of one RTP packet's audio.
pub const FRAME: Duration = Duration::from_millis(20);

/// How to place a call.
#[derive(Debug, Clone)]
pub struct UacConfig {
    /// The Request-URI, e.g. `sip:reception@192.0.2.10:5060`.
    pub target: String,
    /// The address SIP is sent to; None: the target URI's host and port (5060 by default).
    pub proxy: Option<SocketAddr>,
    /// The local address to bind and to put in Via, Contact and SDP.
    pub local_ip: IpAddr,
    /// Local SIP port; 0 lets the system choose.
    pub sip_port: u16,
    /// Local RTP port (even); 0 lets the system choose an even one.
    pub rtp_port: u16,
    /// The user part of the From and Contact URIs.
    pub from_user: String,
    /// The display name in From (the persona the far end sees, where it shows one).
    pub display_name: Option<String>,
    /// Codecs offered, in order of preference.
    pub codecs: Vec<G711>,
    /// The RFC 4733 payload type offered (None: no telephone-event).
    pub telephone_event: Option<u8>,
    /// Time from the INVITE until the call is given up as not answered (CANCEL).
    pub ring_timeout: Duration,
    /// The longest an answered call may last before the client hangs up whatever the driver says.
    pub max_duration: Duration,
    /// Silence suppression: frames the driver leaves silent are not sent (the next packet starts
    /// a talk spurt). Off by default: a steady stream keeps NAT bindings and RTP timeouts happy.
    pub dtx: bool,
    pub track: TrackConfig,
}

impl UacConfig {
    pub fn new(target: impl Into<String>, local_ip: IpAddr) -> UacConfig {
        UacConfig {
            target: target.into(),
            proxy: None,
            local_ip,
            sip_port: 0,
            rtp_port: 0,
            from_user: "callscore".into(),
            display_name: None,
            codecs: vec![G711::Ulaw, G711::Alaw],
            telephone_event: Some(101),
            ring_timeout: Duration::from_secs(30),
            max_duration: Duration::from_secs(30 * 60),
            dtx: false,
            track: TrackConfig::default(),
        }
    }
}

/// What the driver wants sent in one 20 ms frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tick {
    /// These samples (8 kHz, up to 160; shorter frames are padded with silence).
    Speak(Vec<i16>),
    /// Nothing to say: silence (sent as a silent packet, or left out with `dtx`).
    Silence,
    /// End the call: send BYE.
    HangUp,
}

/// Decides, frame by frame, what the client says and when it hangs up.
pub trait CallDriver {
    /// Called once per 20 ms frame of the answered call. `at` is the frame's time on the call
    /// clock (zero = answer); `heard` is the far end's audio placed so far on the same clock
    /// (8 kHz; the last ~160 ms may still be in the jitter buffer).
    fn tick(&mut self, at: Duration, heard: &[i16]) -> Tick;
}

/// Who ended an answered call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ended {
    /// The driver hung up.
    Driver,
    /// The far end sent BYE.
    FarEnd,
    /// [`UacConfig::max_duration`] passed.
    MaxDuration,
}

/// An answered call, after it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct AnsweredCall {
    /// From sending the INVITE until the 200 OK arrived.
    pub ring_ms: u64,
    /// The codec both sides use (the first one of the answer).
    pub codec: G711,
    /// Where the far end receives RTP.
    pub remote_media: SocketAddr,
    pub answered_at: SystemTime,
    pub ended: Ended,
    /// The final response to our BYE (None: the far end ended the call, or never answered it).
    pub bye_status: Option<u16>,
    /// Length of the call on the call clock (answer to hang-up).
    pub duration_ms: u64,
    /// The far end's audio, as received (8 kHz, index 0 = answer).
    pub far: TrackResult,
    /// What was sent, as the far end decodes it (8 kHz, index 0 = answer).
    pub near: Vec<i16>,
    pub packets_sent: u64,
}

/// How the INVITE ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    Answered(Box<AnsweredCall>),
    /// 486 Busy Here or 600 Busy Everywhere.
    Busy {
        status: u16,
    },
    /// Nobody answered: the ring timeout passed (CANCEL sent; `status` is the final response
    /// that followed, normally 487), or the far end said so (408, 480).
    NoAnswer {
        status: Option<u16>,
    },
    /// Any other final response (4xx, 5xx, 6xx).
    Rejected {
        status: u16,
        reason: String,
    },
    /// No usable answer: no response at all, or an answer without audio the client can send.
    Failed {
        reason: String,
    },
}

/// One call attempt, whatever became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedCall {
    pub call_id: String,
    /// The From header sent (with our tag).
    pub from: String,
    /// The Request-URI called.
    pub to: String,
    /// When the INVITE was sent.
    pub invited_at: SystemTime,
    /// From the INVITE until the first 180 or 183.
    pub ringing_ms: Option<u64>,
    pub attempt: Attempt,
}

/// The address to send SIP to for a `sip:` URI: its host (an IP address or a name the system
/// resolves) and port (5060 when absent).
pub fn resolve_target(uri: &str) -> Result<SocketAddr, CaptureError> {
    let bad = |reason: String| CaptureError::Dial {
        target: uri.to_string(),
        reason,
    };
    if !uri.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("sip:"))
        || uri.chars().any(char::is_whitespace)
    {
        return Err(bad(
            "not a SIP URI (expected sip:user@host:port, without spaces)".into(),
        ));
    }
    let parsed = rsip::Uri::try_from(uri)
        .map_err(|e| bad(format!("not a SIP URI (expected sip:user@host:port): {e}")))?;
    if !matches!(parsed.scheme, Some(rsip::Scheme::Sip) | None) {
        return Err(bad("only sip: URIs over UDP are supported".into()));
    }
    let port = parsed.host_with_port.port.map(u16::from).unwrap_or(5060);
    match &parsed.host_with_port.host {
        rsip::Host::IpAddr(ip) => Ok(SocketAddr::new(*ip, port)),
        rsip::Host::Domain(d) => (d.to_string().as_str(), port)
            .to_socket_addrs()
            .map_err(|e| bad(format!("cannot resolve {d}: {e}")))?
            .next()
            .ok_or_else(|| bad(format!("{d} has no address"))),
    }
}

/// The local address the system would send from to reach `peer` (what to put in Via, Contact
/// and SDP). Connecting a UDP socket sends nothing; it only picks the route.
pub fn local_ip_towards(peer: SocketAddr) -> std::io::Result<IpAddr> {
    let any: SocketAddr = if peer.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let socket = std::net::UdpSocket::bind(any)?;
    socket.connect(peer)?;
    Ok(socket.local_addr()?.ip())
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS generator failing is not worth failing a call for: the time keeps ids apart.
    if getrandom::fill(&mut buf).is_err() {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (nanos >> (8 * (i % 16))) as u8;
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn branch() -> String {
    format!("z9hG4bK-{}", random_hex(8))
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// The dialog's fixed parts and what the answer adds.
struct Dialog {
    target: String,
    send_to: SocketAddr,
    local: SocketAddr,
    call_id: String,
    from: String,
    to: String,
    contact: String,
    /// The far end's tag and Contact, and the route set, once answered.
    remote_tag: Option<String>,
    remote_target: Option<String>,
    routes: Vec<String>,
}

impl Dialog {
    fn via(&self, branch: &str) -> String {
        format!("SIP/2.0/UDP {};branch={branch};rport", self.local)
    }

    fn to_with_tag(&self) -> String {
        match &self.remote_tag {
            Some(t) => format!("{};tag={t}", self.to),
            None => self.to.clone(),
        }
    }

    /// A request outside or inside the dialog (inside once the far end's tag is known).
    fn request(
        &self,
        method: &str,
        cseq: u32,
        branch: &str,
        to: Option<String>,
        body: Option<(&str, &[u8])>,
    ) -> Vec<u8> {
        let uri = self.remote_target.as_deref().unwrap_or(&self.target);
        let mut headers = vec![
            ("Via", self.via(branch)),
            ("Max-Forwards", "70".to_string()),
            ("From", self.from.clone()),
            ("To", to.unwrap_or_else(|| self.to_with_tag())),
            ("Call-ID", self.call_id.clone()),
            ("CSeq", format!("{cseq} {method}")),
        ];
        if !self.routes.is_empty() {
            headers.push(("Route", self.routes.join(", ")));
        }
        if method == "INVITE" {
            headers.push(("Contact", self.contact.clone()));
            headers.push(("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS".to_string()));
        }
        // The URI was checked when the call started, so building cannot fail here; a request
        // that cannot be built is simply not sent.
        sip::request(method, uri, &headers, body).unwrap_or_default()
    }

    /// The ACK for a non-2xx final response: the INVITE's URI and branch, the response's To.
    fn ack_failure(&self, invite_branch: &str, response: &Message) -> Vec<u8> {
        let headers = vec![
            ("Via", self.via(invite_branch)),
            ("Max-Forwards", "70".to_string()),
            ("From", self.from.clone()),
            (
                "To",
                response
                    .header("To")
                    .map(str::to_string)
                    .unwrap_or_else(|| self.to.clone()),
            ),
            ("Call-ID", self.call_id.clone()),
            ("CSeq", "1 ACK".to_string()),
        ];
        sip::request("ACK", &self.target, &headers, None).unwrap_or_default()
    }
}

/// Retransmits one request on RFC 3261's schedule until it is answered or given up.
struct Retransmit {
    bytes: Vec<u8>,
    next: Instant,
    interval: Duration,
    /// None: doubles without limit (INVITE, Timer A); Some: capped (non-INVITE, Timer E).
    cap: Option<Duration>,
    give_up: Instant,
}

impl Retransmit {
    fn new(bytes: Vec<u8>, now: Instant, cap: Option<Duration>) -> Retransmit {
        Retransmit {
            bytes,
            next: now + T1,
            interval: T1,
            cap,
            give_up: now + 64 * T1,
        }
    }

    /// The bytes to resend now, if due; moves the timer on.
    fn due(&mut self, now: Instant) -> Option<&[u8]> {
        if now < self.next || now >= self.give_up {
            return None;
        }
        self.interval = match self.cap {
            Some(cap) => (self.interval * 2).min(cap),
            None => self.interval * 2,
        };
        self.next = now + self.interval;
        Some(&self.bytes)
    }
}

struct Sockets {
    sip: UdpSocket,
    rtp: UdpSocket,
}

impl Sockets {
    async fn send(&self, to: SocketAddr, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Err(e) = self.sip.send_to(bytes, to).await {
            tracing::warn!("cannot send SIP to {to}: {e}");
        }
    }
}

async fn bind_rtp(ip: IpAddr, port: u16) -> std::io::Result<UdpSocket> {
    if port != 0 {
        return UdpSocket::bind((ip, port)).await;
    }
    // RTP wants an even port (RTCP takes the odd one above it): ask the system until it gives one.
    let mut last = None;
    for _ in 0..64 {
        let s = UdpSocket::bind((ip, 0)).await?;
        let p = s.local_addr()?.port();
        if p % 2 == 0 {
            return Ok(s);
        }
        drop(s);
        match UdpSocket::bind((ip, p.wrapping_sub(1))).await {
            Ok(s) if p > 1024 => return Ok(s),
            Ok(_) => {}
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free even UDP port for RTP")))
}

/// Places a call and runs it to the end with `driver`. Blocks the thread (it runs its own
/// single-threaded tokio runtime); use [`place_call`] from async code.
pub fn place_call_blocking(
    config: &UacConfig,
    driver: &mut dyn CallDriver,
) -> Result<PlacedCall, CaptureError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CaptureError::Dial {
            target: config.target.clone(),
            reason: format!("cannot start the network runtime: {e}"),
        })?;
    runtime.block_on(place_call(config, driver))
}

/// Places a call and runs it to the end with `driver`.
pub async fn place_call(
    config: &UacConfig,
    driver: &mut dyn CallDriver,
) -> Result<PlacedCall, CaptureError> {
    let dial_err = |reason: String| CaptureError::Dial {
        target: config.target.clone(),
        reason,
    };
    let send_to = match config.proxy {
        Some(p) => p,
        None => resolve_target(&config.target)?,
    };
    // Checked once here, so that building requests later cannot fail.
    sip::request("OPTIONS", &config.target, &[], None).map_err(dial_err)?;
    let sip_socket = UdpSocket::bind((config.local_ip, config.sip_port))
        .await
        .map_err(|source| CaptureError::BindSip {
            addr: SocketAddr::new(config.local_ip, config.sip_port),
            source,
        })?;
    let local = sip_socket
        .local_addr()
        .map_err(|e| dial_err(format!("no local SIP address: {e}")))?;
    let rtp = bind_rtp(config.local_ip, config.rtp_port)
        .await
        .map_err(|e| dial_err(format!("cannot bind an RTP port: {e}")))?;
    let rtp_port = rtp
        .local_addr()
        .map_err(|e| dial_err(format!("no local RTP address: {e}")))?
        .port();
    let sockets = Sockets {
        sip: sip_socket,
        rtp,
    };
    let from_uri = format!("sip:{}@{}", config.from_user, local);
    let from = match &config.display_name {
        Some(name) => format!(
            "\"{}\" <{from_uri}>;tag={}",
            name.replace(['"', '\\', '\r', '\n'], ""),
            random_hex(6)
        ),
        None => format!("<{from_uri}>;tag={}", random_hex(6)),
    };
    let dialog = Dialog {
        target: config.target.clone(),
        send_to,
        local,
        call_id: format!("{}@{}", random_hex(12), local.ip()),
        from,
        to: format!("<{}>", config.target),
        contact: format!("<{from_uri}>"),
        remote_tag: None,
        remote_target: None,
        routes: Vec::new(),
    };
    let session_id = getrandom::u32().unwrap_or(1) as u64;
    let offer = sdp::write_offer(
        config.local_ip,
        session_id,
        rtp_port,
        &config.codecs,
        config.telephone_event,
    );
    Ok(run_call(config, dialog, sockets, offer, driver).await)
}

/// What a datagram on the SIP socket was, for this call.
enum Incoming {
    Response(u16, String, Message),
    Request(String, Message),
    Ignore,
}

fn classify(data: &[u8], call_id: &str) -> Incoming {
    let message = match sip::parse(data) {
        Parsed::Message(m) => m,
        _ => return Incoming::Ignore,
    };
    if message.call_id() != Some(call_id) {
        return Incoming::Ignore;
    }
    let cseq_method = message.cseq().map(|(_, m)| m).unwrap_or_default();
    match &message.start {
        StartLine::Response { code } => Incoming::Response(*code, cseq_method, message),
        StartLine::Request { method, .. } => Incoming::Request(method.clone(), message),
    }
}

async fn run_call(
    config: &UacConfig,
    mut dialog: Dialog,
    sockets: Sockets,
    offer: String,
    driver: &mut dyn CallDriver,
) -> PlacedCall {
    let invite_branch = branch();
    let invite = dialog.request(
        "INVITE",
        1,
        &invite_branch,
        None,
        Some(("application/sdp", offer.as_bytes())),
    );
    let invited = Instant::now();
    let invited_at = SystemTime::now();
    sockets.send(dialog.send_to, &invite).await;
    tracing::info!(
        call_id = dialog.call_id,
        "INVITE {} sent to {}",
        dialog.target,
        dialog.send_to
    );

    let mut placed = PlacedCall {
        call_id: dialog.call_id.clone(),
        from: dialog.from.clone(),
        to: dialog.target.clone(),
        invited_at,
        ringing_ms: None,
        attempt: Attempt::Failed {
            reason: String::new(),
        },
    };
    let mut invite_timer = Some(Retransmit::new(invite.clone(), invited, None));
    let timer_b = invited + 64 * T1;
    let ring_deadline = invited + config.ring_timeout;
    let mut provisional = false;
    let mut cancel: Option<Retransmit> = None;
    let mut cancel_branch_done = false;
    let mut buf = vec![0u8; 65_536];
    let mut rtp_buf = vec![0u8; 2048];

    // Until the INVITE has a final response.
    let (answer, answered) = loop {
        let mut deadline = if provisional {
            ring_deadline
        } else {
            timer_b.min(ring_deadline)
        };
        if let Some(t) = &invite_timer {
            deadline = deadline.min(t.next);
        }
        if let Some(c) = &cancel {
            deadline = if cancel_branch_done {
                c.give_up
            } else {
                c.next.min(c.give_up)
            };
        }
        tokio::select! {
            received = sockets.sip.recv_from(&mut buf) => {
                let Ok((n, _from)) = received else { continue };
                match classify(&buf[..n], &dialog.call_id) {
                    Incoming::Response(code, method, m) if method == "INVITE" => {
                        let now = Instant::now();
                        if code < 200 {
                            provisional = true;
                            invite_timer = None;
                            if matches!(code, 180 | 183) && placed.ringing_ms.is_none() {
                                placed.ringing_ms = Some(ms(now - invited));
                            }
                        } else if code < 300 {
                            break (m, now);
                        } else {
                            sockets.send(dialog.send_to, &dialog.ack_failure(&invite_branch, &m)).await;
                            placed.attempt = match code {
                                487 if cancel.is_some() => Attempt::NoAnswer { status: Some(code) },
                                486 | 600 => Attempt::Busy { status: code },
                                408 | 480 => Attempt::NoAnswer { status: Some(code) },
                                _ => Attempt::Rejected { status: code, reason: sip::reason_phrase(code).to_string() },
                            };
                            tracing::info!(call_id = dialog.call_id, "INVITE answered {code}");
                            return placed;
                        }
                    }
                    Incoming::Response(code, method, _) if method == "CANCEL" && code >= 200 => {
                        cancel_branch_done = true;
                    }
                    Incoming::Request(method, m) => {
                        // Nothing but a BYE or CANCEL can come in before the answer; say no to the rest.
                        let code = if method == "ACK" { 0 } else if method == "BYE" { 481 } else { 405 };
                        if code != 0 {
                            sockets.send(dialog.send_to, &sip::response(&m, code, None, &[], None)).await;
                        }
                    }
                    _ => {}
                }
            }
            // Early media is not recorded: read and drop it so it does not sit in the socket.
            _ = sockets.rtp.recv_from(&mut rtp_buf) => {}
            _ = sleep_until(deadline.into()) => {
                let now = Instant::now();
                if let Some(c) = &mut cancel {
                    if now >= c.give_up {
                        placed.attempt = Attempt::NoAnswer { status: None };
                        return placed;
                    }
                    if !cancel_branch_done {
                        if let Some(bytes) = c.due(now) {
                            let bytes = bytes.to_vec();
                            sockets.send(dialog.send_to, &bytes).await;
                        }
                    }
                    continue;
                }
                if let Some(t) = &mut invite_timer {
                    if let Some(bytes) = t.due(now) {
                        let bytes = bytes.to_vec();
                        sockets.send(dialog.send_to, &bytes).await;
                    }
                }
                if now >= ring_deadline {
                    if provisional {
                        // RFC 3261 9.1: a CANCEL takes the INVITE's URI, Via branch and To.
                        let bytes = dialog.request("CANCEL", 1, &invite_branch, Some(dialog.to.clone()), None);
                        sockets.send(dialog.send_to, &bytes).await;
                        tracing::info!(call_id = dialog.call_id, "no answer within {:?}: CANCEL", config.ring_timeout);
                        cancel = Some(Retransmit::new(bytes, now, Some(T2)));
                        invite_timer = None;
                    } else {
                        placed.attempt = Attempt::Failed {
                            reason: format!("no response from {} within the ring timeout ({} s)", dialog.send_to, config.ring_timeout.as_secs_f32()),
                        };
                        return placed;
                    }
                } else if !provisional && now >= timer_b {
                    placed.attempt = Attempt::Failed {
                        reason: format!("no response from {} to the INVITE (timer B, {} s)", dialog.send_to, (64 * T1).as_secs()),
                    };
                    return placed;
                }
            }
        }
    };

    // A 2xx: the dialog is established; ACK it (RFC 3261 13.2.2.4: a new transaction).
    dialog.remote_tag = answer.tag_of("To");
    dialog.remote_target = answer.header("Contact").map(|c| sip::uri_of(c).to_string());
    dialog.routes = answer.header_values("Record-Route");
    dialog.routes.reverse();
    let ack = dialog.request("ACK", 1, &branch(), None, None);
    sockets.send(dialog.send_to, &ack).await;
    let ring_ms = ms(answered - invited);
    let answered_at = SystemTime::now();
    tracing::info!(call_id = dialog.call_id, ring_ms, "answered; ACK sent");

    let media = answer_media(&answer, config);
    let (remote_media, pt, codec, payloads) = match (media, cancel.is_some()) {
        (Ok(m), false) => m,
        (result, cancelled) => {
            // Answered too late (the CANCEL crossed the 200) or without audio we can send:
            // end the call at once.
            let bye_status = hang_up(&dialog, &sockets, 2).await;
            tracing::info!(
                call_id = dialog.call_id,
                ?bye_status,
                "ended straight after the answer"
            );
            placed.attempt = match (result, cancelled) {
                (_, true) => Attempt::NoAnswer { status: Some(200) },
                (Err(reason), false) => Attempt::Failed { reason },
                (Ok(_), false) => unreachable!("handled above"),
            };
            return placed;
        }
    };

    let mut track = StreamTrack::new(payloads, config.track.clone());
    let mut sender = RtpSender::new(codec, pt, RtpStart::random());
    let mut near: Vec<i16> = Vec::new();
    let silent = [0i16; FRAME_SAMPLES];
    let mut frame_no: u32 = 0;
    let ended = loop {
        let at = FRAME * frame_no;
        let due = answered + at;
        tokio::select! {
            biased;
            _ = sleep_until(due.into()) => {
                if at >= config.max_duration {
                    break Ended::MaxDuration;
                }
                let tick = driver.tick(at, track.timeline());
                let frame: Option<Vec<i16>> = match tick {
                    Tick::HangUp => break Ended::Driver,
                    Tick::Speak(mut f) => {
                        f.resize(FRAME_SAMPLES, 0);
                        Some(f)
                    }
                    Tick::Silence if config.dtx => None,
                    Tick::Silence => Some(silent.to_vec()),
                };
                match frame {
                    Some(f) => {
                        let packet = sender.packet(&f, &mut near);
                        if let Err(e) = sockets.rtp.send_to(&packet.to_bytes(), remote_media).await {
                            tracing::debug!("cannot send RTP to {remote_media}: {e}");
                        }
                    }
                    None => {
                        sender.skip(FRAME_SAMPLES);
                        near.extend_from_slice(&silent);
                    }
                }
                frame_no += 1;
            }
            received = sockets.rtp.recv_from(&mut rtp_buf) => {
                if let Ok((n, from)) = received {
                    if from.ip() == remote_media.ip() && crate::rtp::looks_like_rtp(&rtp_buf[..n]) {
                        track.push(answered.elapsed(), &rtp_buf[..n]);
                    }
                }
            }
            received = sockets.sip.recv_from(&mut buf) => {
                let Ok((n, _)) = received else { continue };
                match classify(&buf[..n], &dialog.call_id) {
                    // The 200 again: our ACK was lost.
                    Incoming::Response(code, method, _) if method == "INVITE" && (200..300).contains(&code) => {
                        sockets.send(dialog.send_to, &ack).await;
                    }
                    Incoming::Request(method, m) => {
                        let rtp_port = rtp_port_of(&sockets);
                        let far_end_bye =
                            in_dialog_request(&dialog, &sockets, &method, &m, codec, config, rtp_port).await;
                        if far_end_bye {
                            tracing::info!(call_id = dialog.call_id, "the far end hung up (BYE)");
                            break Ended::FarEnd;
                        }
                    }
                    _ => {}
                }
            }
        }
    };
    let duration_ms = ms(FRAME * frame_no);
    let bye_status = if ended == Ended::FarEnd {
        None
    } else {
        hang_up(&dialog, &sockets, 2).await
    };
    // Whatever is still in the socket arrived before the hang-up.
    while let Ok((n, from)) = sockets.rtp.try_recv_from(&mut rtp_buf) {
        if from.ip() == remote_media.ip() && crate::rtp::looks_like_rtp(&rtp_buf[..n]) {
            track.push(answered.elapsed(), &rtp_buf[..n]);
        }
    }
    let far = track.finish();
    placed.attempt = Attempt::Answered(Box::new(AnsweredCall {
        ring_ms,
        codec,
        remote_media,
        answered_at,
        ended,
        bye_status,
        duration_ms,
        far,
        near,
        packets_sent: sender.packets(),
    }));
    placed
}

fn rtp_port_of(sockets: &Sockets) -> u16 {
    sockets.rtp.local_addr().map(|a| a.port()).unwrap_or(0)
}

type Media = (SocketAddr, u8, G711, PayloadMap);

/// The far end's audio stream from a 2xx's SDP: where to send, which payload type and codec.
fn answer_media(answer: &Message, config: &UacConfig) -> Result<Media, String> {
    let body = String::from_utf8_lossy(&answer.body);
    if body.trim().is_empty() {
        return Err("the answer carries no SDP".into());
    }
    let streams = sdp::parse_offer(&body).map_err(|e| format!("the answer's SDP: {e}"))?;
    let audio = streams
        .iter()
        .find(|m| m.is_audio && m.address.is_some())
        .ok_or("the answer accepts no audio stream")?;
    let (pt, codec) = audio
        .codec
        .filter(|(_, c)| config.codecs.contains(c))
        .ok_or_else(|| {
            format!(
                "the answer's audio formats {:?} hold none of the codecs offered",
                audio.formats
            )
        })?;
    let remote = audio.address.ok_or("the answer has no media address")?;
    Ok((remote, pt, codec, audio.payloads.clone()))
}

/// Answers a request inside the answered call; true when it was the far end's BYE.
async fn in_dialog_request(
    dialog: &Dialog,
    sockets: &Sockets,
    method: &str,
    m: &Message,
    codec: G711,
    config: &UacConfig,
    rtp_port: u16,
) -> bool {
    let contact = [("Contact", dialog.contact.clone())];
    let bytes = match method {
        "ACK" => return false,
        "BYE" => {
            sockets
                .send(dialog.send_to, &sip::response(m, 200, None, &[], None))
                .await;
            return true;
        }
        // A session refresh or hold: keep the media as it is and say so.
        "INVITE" => {
            let sdp = sdp::write_offer(
                config.local_ip,
                2,
                rtp_port,
                &[codec],
                config.telephone_event,
            );
            sip::response(
                m,
                200,
                None,
                &contact,
                Some(("application/sdp", sdp.as_bytes())),
            )
        }
        "OPTIONS" | "INFO" | "UPDATE" | "NOTIFY" | "CANCEL" => {
            sip::response(m, 200, None, &contact, None)
        }
        _ => sip::response(m, 501, None, &[], None),
    };
    sockets.send(dialog.send_to, &bytes).await;
    false
}

/// Sends BYE and waits for its final response (Timer E retransmissions, Timer F give-up),
/// answering a BYE that crosses ours. Returns the final status, None when none came.
async fn hang_up(dialog: &Dialog, sockets: &Sockets, cseq: u32) -> Option<u16> {
    let bye_branch = branch();
    let bye = dialog.request("BYE", cseq, &bye_branch, None, None);
    sockets.send(dialog.send_to, &bye).await;
    let mut timer = Retransmit::new(bye, Instant::now(), Some(T2));
    let mut buf = vec![0u8; 65_536];
    loop {
        let deadline = timer.next.min(timer.give_up);
        tokio::select! {
            received = sockets.sip.recv_from(&mut buf) => {
                let Ok((n, _)) = received else { continue };
                match classify(&buf[..n], &dialog.call_id) {
                    Incoming::Response(code, method, m) if method == "BYE" && code >= 200
                        && m.branch().as_deref() == Some(bye_branch.as_str()) => {
                        return Some(code);
                    }
                    Incoming::Request(method, m) if method == "BYE" => {
                        sockets.send(dialog.send_to, &sip::response(&m, 200, None, &[], None)).await;
                    }
                    _ => {}
                }
            }
            _ = sleep_until(deadline.into()) => {
                let now = Instant::now();
                if now >= timer.give_up {
                    return None;
                }
                if let Some(bytes) = timer.due(now) {
                    let bytes = bytes.to_vec();
                    sockets.send(dialog.send_to, &bytes).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_resolve_with_the_default_port() {
        assert_eq!(
            resolve_target("sip:reception@127.0.0.1:5080").unwrap(),
            "127.0.0.1:5080".parse().unwrap()
        );
        assert_eq!(
            resolve_target("sip:reception@127.0.0.1").unwrap(),
            "127.0.0.1:5060".parse().unwrap()
        );
        assert_eq!(
            local_ip_towards("127.0.0.1:5060".parse().unwrap()).unwrap(),
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
        let err = resolve_target("reception at the front desk").unwrap_err();
        assert!(err.to_string().contains("not a SIP URI"), "{err}");
    }

    #[test]
    fn retransmissions_double_and_stop() {
        let t0 = Instant::now();
        let mut invite = Retransmit::new(b"x".to_vec(), t0, None);
        let mut at = Vec::new();
        let mut now = t0;
        while now < t0 + 64 * T1 {
            if invite.due(now).is_some() {
                at.push((now - t0).as_millis());
            }
            now += Duration::from_millis(250);
        }
        // Timer A: 0.5, 1.5, 3.5, 7.5, 15.5 s (the next, 31.5 s, falls inside 32 s too).
        assert_eq!(at, [500, 1500, 3500, 7500, 15500, 31500]);
        let mut bye = Retransmit::new(b"x".to_vec(), t0, Some(T2));
        let mut at = Vec::new();
        let mut now = t0;
        while now < t0 + Duration::from_secs(16) {
            if bye.due(now).is_some() {
                at.push((now - t0).as_millis());
            }
            now += Duration::from_millis(250);
        }
        // Timer E: 0.5, 1.5, 3.5, 7.5, then every T2 = 4 s.
        assert_eq!(at, [500, 1500, 3500, 7500, 11500, 15500]);
    }

    #[test]
    fn requests_carry_the_dialog() {
        let mut d = Dialog {
            target: "sip:shop@127.0.0.1:5080".into(),
            send_to: "127.0.0.1:5080".parse().unwrap(),
            local: "127.0.0.1:5070".parse().unwrap(),
            call_id: "c1@127.0.0.1".into(),
            from: "<sip:shop@127.0.0.1:5070>;tag=f1".into(),
            to: "<sip:shop@127.0.0.1:5080>".into(),
            contact: "<sip:shop@127.0.0.1:5070>".into(),
            remote_tag: None,
            remote_target: None,
            routes: vec![],
        };
        let text = |b: Vec<u8>| match sip::parse(&b) {
            Parsed::Message(m) => m,
            other => panic!("{other:?}"),
        };
        let invite = text(d.request(
            "INVITE",
            1,
            "z9hG4bK-1",
            None,
            Some(("application/sdp", b"v=0\r\n")),
        ));
        assert_eq!(invite.cseq(), Some((1, "INVITE".into())));
        assert_eq!(invite.tag_of("To"), None);
        assert!(invite.header("Contact").is_some());
        d.remote_tag = Some("r9".into());
        d.remote_target = Some("sip:agent@127.0.0.1:5080".into());
        d.routes = vec!["<sip:proxy;lr>".into()];
        let bye = text(d.request("BYE", 2, "z9hG4bK-2", None, None));
        assert_eq!(
            bye.start,
            StartLine::Request {
                method: "BYE".into(),
                uri: "sip:agent@127.0.0.1:5080".into()
            }
        );
        assert_eq!(bye.tag_of("To").as_deref(), Some("r9"));
        assert_eq!(bye.tag_of("From").as_deref(), Some("f1"));
        assert_eq!(bye.header("Route"), Some("<sip:proxy;lr>"));
        assert_eq!(bye.branch().as_deref(), Some("z9hG4bK-2"));
    }
}
