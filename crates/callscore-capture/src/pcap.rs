//! Offline import: calls out of pcap/pcapng captures of SIP and RTP.
//!
//! SIP dialogs (plain or SIPREC) and their SDP say which RTP streams belong to which call and
//! whose voice each carries; RTP with no SIP in the capture is grouped by address/port pair, one
//! leg per direction. A capture that breaks part-way still yields every call read up to the break,
//! plus where it broke.

use crate::call::{CallRecording, RecordedLeg};
use crate::sdp::MediaOffer;
use crate::sip::{self, Message, Parsed, StartLine};
use crate::siprec::RecordingMetadata;
use crate::track::{PayloadMap, StreamTrack, TrackConfig};
use crate::CaptureError;
use callscore_core::{CallMeta, Speaker};
use etherparse::{EtherType, NetSlice, SlicedPacket, TransportSlice};
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::Block;
use pcap_file::{DataLink, PcapError};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// Where and why a capture stopped being readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureBroken {
    /// 1-based number of the packet (pcap) or block (pcapng) that could not be read.
    pub packet: u64,
    pub byte_offset: u64,
    pub reason: String,
}

impl fmt::Display for CaptureBroken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "capture is broken at packet {} (byte offset {}): {}",
            self.packet, self.byte_offset, self.reason
        )
    }
}

/// What an import found.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub calls: Vec<CallRecording>,
    /// Set when the capture could not be read to its end; `calls` holds what came before.
    pub broken: Option<CaptureBroken>,
    pub packets: u64,
    /// Packets that were not UDP SIP or RTP (TCP, ARP, IP fragments, other link types…).
    pub skipped: u64,
}

struct Udp {
    at: Duration,
    from: SocketAddr,
    to: SocketAddr,
    payload: Vec<u8>,
}

/// Reads a capture file, streaming: the file is read in chunks and only UDP datagrams that are
/// SIP or look like RTP are kept, so a capture far larger than memory (long traces full of other
/// traffic) imports with memory for its calls only. Errors only when the file cannot be read, is
/// not a capture at all, or carries no link type this reader understands.
pub fn import(path: &Path, track: &TrackConfig) -> Result<ImportReport, CaptureError> {
    let file = std::fs::File::open(path).map_err(|source| CaptureError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    import_reader(path, file, track)
}

/// Like [`import`], from bytes already in memory; `path` only names the input in errors.
pub fn import_bytes(
    path: &Path,
    bytes: &[u8],
    track: &TrackConfig,
) -> Result<ImportReport, CaptureError> {
    import_reader(path, bytes, track)
}

/// Like [`import`], from any reader; `path` only names the input in errors.
pub fn import_reader(
    path: &Path,
    reader: impl Read,
    track: &TrackConfig,
) -> Result<ImportReport, CaptureError> {
    let mut report = ImportReport::default();
    let mut datagrams = Vec::new();
    let mut input = Chunks::new(path, reader);
    input.fill_to(4)?;
    let magic = input
        .available()
        .get(..4)
        .map(|m| u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
    match magic {
        Some(0x0A0D_0D0A) => read_pcapng(&mut input, &mut report, &mut datagrams)?,
        Some(0xA1B2_C3D4 | 0xD4C3_B2A1 | 0xA1B2_3C4D | 0x4D3C_B2A1) => {
            read_pcap(&mut input, &mut report, &mut datagrams)?
        }
        _ => {
            return Err(CaptureError::NotACapture {
                path: path.to_path_buf(),
                reason: "no pcap or pcapng magic number at the start".into(),
            })
        }
    }
    report.calls = group_calls(datagrams, track);
    Ok(report)
}

/// Bytes are read this much at a time.
const CHUNK: usize = 1 << 20;
/// No pcap record or pcapng block is larger than this (snap lengths are at most 256 KiB); a
/// larger declared length means a damaged file, not a reason to allocate gigabytes.
const MAX_RECORD: usize = 16 << 20;

/// A capture read in chunks for pcap-file's slice parsers, which answer "incomplete" when a
/// record runs past the end of what they were given: then more is read and the record parsed
/// again. Keeps the absolute byte offset for error messages.
struct Chunks<'p, R> {
    path: &'p Path,
    reader: R,
    buf: Vec<u8>,
    /// Start of the unparsed bytes in `buf`.
    start: usize,
    /// Absolute file offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// A record claimed more than [`MAX_RECORD`] bytes.
    too_large: bool,
}

impl<'p, R: Read> Chunks<'p, R> {
    fn new(path: &'p Path, reader: R) -> Self {
        Chunks {
            path,
            reader,
            buf: Vec::new(),
            start: 0,
            base: 0,
            eof: false,
            too_large: false,
        }
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
    }

    fn at_end(&mut self) -> Result<bool, CaptureError> {
        if self.available().is_empty() && !self.eof {
            self.more()?;
        }
        Ok(self.available().is_empty() && self.eof)
    }

    /// Reads another chunk (after dropping what is parsed). False at the end of the file.
    fn more(&mut self) -> Result<bool, CaptureError> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.base += self.start as u64;
            self.start = 0;
        }
        if self.buf.len() >= MAX_RECORD {
            // Treated as the end: the record cannot be real, and what came before still counts.
            self.too_large = true;
            return Ok(false);
        }
        let old = self.buf.len();
        self.buf.resize(old + CHUNK, 0);
        let n = loop {
            match self.reader.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(CaptureError::Io {
                        path: self.path.to_path_buf(),
                        source,
                    })
                }
            }
        };
        self.buf.truncate(old + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(n > 0)
    }

    /// Why a record could not be parsed, in words.
    fn reason(&self, e: &PcapError) -> String {
        if self.too_large {
            format!(
                "a record longer than {} MiB: the file is damaged",
                MAX_RECORD >> 20
            )
        } else {
            describe(e)
        }
    }

    fn fill_to(&mut self, n: usize) -> Result<(), CaptureError> {
        while self.available().len() < n && self.more()? {}
        Ok(())
    }
}

fn describe(e: &PcapError) -> String {
    match e {
        PcapError::IncompleteBuffer => {
            "truncated: the record is longer than what is left of the file".into()
        }
        other => other.to_string(),
    }
}

/// Keeps a datagram only when it can matter: SIP, or what looks like RTP.
fn keep(report: &mut ImportReport, out: &mut Vec<Udp>, d: Option<Udp>) {
    match d {
        Some(d) if is_sip(&d.payload) || crate::rtp::looks_like_rtp(&d.payload) => out.push(d),
        _ => report.skipped += 1,
    }
}

fn read_pcap<R: Read>(
    input: &mut Chunks<'_, R>,
    report: &mut ImportReport,
    out: &mut Vec<Udp>,
) -> Result<(), CaptureError> {
    let path = input.path.to_path_buf();
    input.fill_to(24)?;
    let (rest, parser) = pcap_file::pcap::PcapParser::new(input.available()).map_err(|e| {
        CaptureError::NotACapture {
            path: path.clone(),
            reason: describe(&e),
        }
    })?;
    let header_len = input.available().len() - rest.len();
    input.consume(header_len);
    let link = parser.header().datalink;
    if !supported(link) {
        return Err(CaptureError::LinkType {
            path,
            link_type: format!("{link:?}"),
        });
    }
    while !input.at_end()? {
        let number = report.packets + 1;
        let parsed = parser.next_packet(input.available()).map(|(rest, packet)| {
            let d = udp_of(link, &packet.data, packet.timestamp);
            (input.available().len() - rest.len(), d)
        });
        match parsed {
            Ok((used, d)) => {
                report.packets += 1;
                keep(report, out, d);
                input.consume(used);
            }
            Err(PcapError::IncompleteBuffer) if input.more()? => {}
            Err(e) => {
                report.broken = Some(CaptureBroken {
                    packet: number,
                    byte_offset: input.offset(),
                    reason: input.reason(&e),
                });
                break;
            }
        }
    }
    Ok(())
}

fn read_pcapng<R: Read>(
    input: &mut Chunks<'_, R>,
    report: &mut ImportReport,
    out: &mut Vec<Udp>,
) -> Result<(), CaptureError> {
    let path = input.path.to_path_buf();
    let mut parser = loop {
        match pcap_file::pcapng::PcapNgParser::new(input.available()) {
            Ok((rest, parser)) => {
                let used = input.available().len() - rest.len();
                input.consume(used);
                break parser;
            }
            Err(e) => {
                if matches!(e, PcapError::IncompleteBuffer) && input.more()? {
                    continue;
                }
                return Err(CaptureError::NotACapture {
                    path,
                    reason: describe(&e),
                });
            }
        }
    };
    let mut blocks = 1u64;
    // Link types of packets skipped because this reader does not understand them: a capture
    // with nothing else is an error, as the same capture in pcap form is.
    let mut unsupported: Vec<String> = Vec::new();
    let mut supported_packets = 0u64;
    while !input.at_end()? {
        let offset = input.offset();
        let step = parser.next_block(input.available()).map(|(rest, block)| {
            let used = input.available().len() - rest.len();
            (used, block)
        });
        let (used, block) = match step {
            Ok(x) => x,
            Err(e) => {
                if matches!(e, PcapError::IncompleteBuffer) && input.more()? {
                    continue;
                }
                report.broken = Some(CaptureBroken {
                    packet: blocks + 1,
                    byte_offset: offset,
                    reason: format!("pcapng block {}: {}", blocks + 1, input.reason(&e)),
                });
                break;
            }
        };
        blocks += 1;
        let (interface_id, raw_ts, data) = match &block {
            Block::EnhancedPacket(p) => (p.interface_id, Some(p.timestamp), &p.data),
            Block::SimplePacket(p) => (0, None, &p.data),
            _ => {
                input.consume(used);
                continue;
            }
        };
        report.packets += 1;
        let Some(interface) = parser.interfaces().get(interface_id as usize) else {
            report.skipped += 1;
            input.consume(used);
            continue;
        };
        // pcap-file reports the raw timestamp as nanoseconds; its real unit is the interface's
        // if_tsresol (default 10^-6 s), so it is rescaled here.
        let resolution = interface.options.iter().find_map(|o| match o {
            InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
            _ => None,
        });
        let at = raw_ts
            .map(|t| rescale(t.as_nanos() as u64, resolution.unwrap_or(6)))
            .unwrap_or_default();
        if !supported(interface.linktype) {
            let name = format!("{:?}", interface.linktype);
            if !unsupported.contains(&name) {
                unsupported.push(name);
            }
            report.skipped += 1;
            input.consume(used);
            continue;
        }
        supported_packets += 1;
        let d = udp_of(interface.linktype, data, at);
        keep(report, out, d);
        input.consume(used);
    }
    if supported_packets == 0 && !unsupported.is_empty() {
        return Err(CaptureError::LinkType {
            path,
            link_type: unsupported.join(", "),
        });
    }
    // As for pcap: a capture none of whose interfaces can be read is an error, not an empty
    // import (one unreadable interface among readable ones is only skipped packets).
    let interfaces = parser.interfaces();
    if let Some(first) = interfaces.first() {
        if interfaces.iter().all(|i| !supported(i.linktype)) {
            return Err(CaptureError::LinkType {
                path: path.to_path_buf(),
                link_type: format!("{:?}", first.linktype),
            });
        }
    }
    Ok(())
}

fn rescale(units: u64, tsresol: u8) -> Duration {
    if tsresol & 0x80 != 0 {
        let exp = (tsresol & 0x7F) as u32;
        let per_second = 2u128.checked_pow(exp).unwrap_or(u128::MAX);
        return Duration::from_nanos((units as u128 * 1_000_000_000 / per_second) as u64);
    }
    let exp = tsresol as u32;
    if exp <= 9 {
        Duration::from_nanos(units.saturating_mul(10u64.pow(9 - exp)))
    } else {
        Duration::from_nanos(units / 10u64.saturating_pow(exp - 9))
    }
}

fn supported(link: DataLink) -> bool {
    matches!(
        link,
        DataLink::ETHERNET
            | DataLink::LINUX_SLL
            | DataLink::LINUX_SLL2
            | DataLink::RAW
            | DataLink::IPV4
            | DataLink::IPV6
            | DataLink::NULL
            | DataLink::LOOP
    )
}

fn udp_of(link: DataLink, data: &[u8], at: Duration) -> Option<Udp> {
    let sliced = match link {
        DataLink::ETHERNET => SlicedPacket::from_ethernet(data).ok()?,
        DataLink::LINUX_SLL => SlicedPacket::from_linux_sll(data).ok()?,
        // SLL2 (20-byte header, protocol first) is not in etherparse; its layout is fixed.
        DataLink::LINUX_SLL2 => {
            let proto = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
            SlicedPacket::from_ether_type(EtherType(proto), data.get(20..)?).ok()?
        }
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => SlicedPacket::from_ip(data).ok()?,
        // BSD loopback: a 4-byte address family, then the IP packet.
        DataLink::NULL | DataLink::LOOP => SlicedPacket::from_ip(data.get(4..)?).ok()?,
        _ => return None,
    };
    let (src, dst): (IpAddr, IpAddr) = match sliced.net.as_ref()? {
        NetSlice::Ipv4(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        NetSlice::Ipv6(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        _ => return None,
    };
    let TransportSlice::Udp(udp) = sliced.transport.as_ref()? else {
        return None;
    };
    Some(Udp {
        at,
        from: SocketAddr::new(src, udp.source_port()),
        to: SocketAddr::new(dst, udp.destination_port()),
        payload: udp.payload().to_vec(),
    })
}

/// Where a call's media should arrive, and whose voice it carries.
struct Receiver {
    addr: SocketAddr,
    role: Speaker,
    payloads: PayloadMap,
}

struct SipCall {
    first_at: Duration,
    last_at: Duration,
    meta: CallMeta,
    receivers: Vec<Receiver>,
    metadata: Option<RecordingMetadata>,
    /// The offer of the INVITE in progress, until its 200 OK answers it.
    pending_offer: Vec<MediaOffer>,
}

fn is_sip(payload: &[u8]) -> bool {
    let head = &payload[..payload.len().min(16)];
    head.starts_with(b"SIP/2.0 ") || {
        let line = String::from_utf8_lossy(head);
        let method = line.split(' ').next().unwrap_or("");
        !method.is_empty()
            && method.len() < 12
            && method.bytes().all(|b| b.is_ascii_uppercase())
            && line.len() > method.len()
            && line[method.len() + 1..]
                .to_ascii_lowercase()
                .starts_with("sip")
    }
}

fn time_of(at: Duration) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(at.as_nanos() as i128).ok()?;
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

fn group_calls(datagrams: Vec<Udp>, track: &TrackConfig) -> Vec<CallRecording> {
    let mut calls: BTreeMap<String, SipCall> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut rtp: Vec<Udp> = Vec::new();
    for d in datagrams {
        if is_sip(&d.payload) {
            if let Parsed::Message(m) = sip::parse(&d.payload) {
                on_sip(&mut calls, &mut order, &d, m);
            }
        } else if crate::rtp::looks_like_rtp(&d.payload) {
            rtp.push(d);
        }
    }
    let mut out = Vec::new();
    let mut used = vec![false; rtp.len()];
    // Indexes so that matching stays linear in the capture's size, however many calls it holds.
    let mut by_port: HashMap<u16, Vec<usize>> = HashMap::new();
    for (i, d) in rtp.iter().enumerate() {
        by_port.entry(d.to.port()).or_default().push(i);
    }
    // Media may start a little before the 200 OK is captured and end a little after the BYE.
    const SLACK: Duration = Duration::from_secs(2);
    for id in order {
        let Some(call) = calls.remove(&id) else {
            continue;
        };
        let t0 = call.first_at;
        let window = t0.saturating_sub(SLACK)..call.last_at + SLACK;
        let mut legs = Vec::new();
        for receiver in &call.receivers {
            let mut stream = StreamTrack::new(receiver.payloads.clone(), track.clone());
            // The SDP's address, or the same port at another address (NAT rewrote it) as long as
            // that address is not another of this call's receivers.
            let matches = |d: &Udp| {
                d.to == receiver.addr
                    || (receiver.addr.ip().is_unspecified() || d.to.ip() != receiver.addr.ip())
                        && !call.receivers.iter().any(|r| r.addr == d.to)
            };
            for &i in by_port
                .get(&receiver.addr.port())
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                let d = &rtp[i];
                if !used[i] && window.contains(&d.at) && matches(d) {
                    used[i] = true;
                    stream.push(d.at.saturating_sub(t0), &d.payload);
                }
            }
            legs.push(RecordedLeg {
                role: receiver.role,
                track: stream.finish(),
            });
        }
        out.push(CallRecording {
            meta: call.meta,
            legs,
        });
    }
    // RTP no SIP dialog claimed: one call per address pair, one leg per direction.
    let mut pair_index: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    let mut pairs: Vec<((SocketAddr, SocketAddr), Vec<usize>)> = Vec::new();
    for (i, d) in rtp.iter().enumerate() {
        if used[i] {
            continue;
        }
        let key = if d.from <= d.to {
            (d.from, d.to)
        } else {
            (d.to, d.from)
        };
        let slot = *pair_index.entry(key).or_insert_with(|| {
            pairs.push((key, Vec::new()));
            pairs.len() - 1
        });
        pairs[slot].1.push(i);
    }
    for ((a, b), indices) in pairs {
        let t0 = rtp[indices[0]].at;
        let mut directions: Vec<((SocketAddr, SocketAddr), StreamTrack)> = Vec::new();
        for &i in &indices {
            let d = &rtp[i];
            let pos = match directions.iter().position(|(k, _)| *k == (d.from, d.to)) {
                Some(p) => p,
                None => {
                    directions.push((
                        (d.from, d.to),
                        StreamTrack::new(PayloadMap::default(), track.clone()),
                    ));
                    directions.len() - 1
                }
            };
            directions[pos].1.push(d.at.saturating_sub(t0), &d.payload);
        }
        let legs = directions
            .into_iter()
            .map(|(_, t)| RecordedLeg {
                role: Speaker::Unknown,
                track: t.finish(),
            })
            .collect();
        let meta = CallMeta {
            call_id: Some(format!("rtp-{a}-{b}")),
            started_at: time_of(t0),
            ..Default::default()
        };
        out.push(CallRecording { meta, legs });
    }
    out
}

fn on_sip(calls: &mut BTreeMap<String, SipCall>, order: &mut Vec<String>, d: &Udp, m: Message) {
    let Some(call_id) = m.call_id().map(str::to_string) else {
        return;
    };
    let cseq_method = m.cseq().map(|(_, method)| method).unwrap_or_default();
    match &m.start {
        StartLine::Request { method, .. } if method == "INVITE" => {
            let Ok((offers, metadata)) = crate::server::read_offer(&m) else {
                return;
            };
            let call = calls.entry(call_id.clone()).or_insert_with(|| {
                order.push(call_id.clone());
                let mut meta = CallMeta {
                    call_id: Some(call_id.clone()),
                    from: m.header("From").map(crate::server::strip_tag),
                    to: m.header("To").map(crate::server::strip_tag),
                    started_at: time_of(d.at),
                    ..Default::default()
                };
                if let Some(md) = &metadata {
                    meta.caller_name = md.name_of(Speaker::Caller);
                    meta.agent = md.name_of(Speaker::Agent);
                }
                SipCall {
                    first_at: d.at,
                    last_at: d.at,
                    meta,
                    receivers: Vec::new(),
                    metadata: metadata.clone(),
                    pending_offer: Vec::new(),
                }
            });
            call.last_at = call.last_at.max(d.at);
            if call.metadata.is_none() && metadata.is_some() {
                call.metadata = metadata;
            }
            // Plain calls: the offerer receives the answerer's (agent's) voice at its SDP address.
            if call.metadata.is_none() {
                for o in offers.iter().filter(|o| o.is_audio) {
                    if let Some(addr) = o.address {
                        push_receiver(
                            &mut call.receivers,
                            Receiver {
                                addr,
                                role: Speaker::Agent,
                                payloads: o.payloads.clone(),
                            },
                        );
                    }
                }
            }
            call.pending_offer = offers;
        }
        StartLine::Response { code: 200 } if cseq_method == "INVITE" => {
            let Some(call) = calls.get_mut(&call_id) else {
                return;
            };
            call.last_at = call.last_at.max(d.at);
            let Some((content_type, _)) = m.content_type() else {
                return;
            };
            if content_type != "application/sdp" {
                return;
            }
            let Ok(answers) = crate::sdp::parse_offer(&String::from_utf8_lossy(&m.body)) else {
                return;
            };
            let offer = std::mem::take(&mut call.pending_offer);
            for answer in answers.iter().filter(|a| a.is_audio) {
                let Some(addr) = answer.address else { continue };
                let offered = offer.get(answer.index);
                let role = match (
                    &call.metadata,
                    offered
                        .and_then(|o| o.label.as_ref())
                        .or(answer.label.as_ref()),
                ) {
                    (Some(md), Some(label)) => md
                        .sender_of_label(label)
                        .map(|(r, _)| r)
                        .unwrap_or(Speaker::Unknown),
                    (Some(_), None) => Speaker::Unknown,
                    // Plain calls: the answerer receives the offerer's (caller's) voice.
                    (None, _) => Speaker::Caller,
                };
                let payloads = offered
                    .map(|o| o.payloads.clone())
                    .unwrap_or_else(|| answer.payloads.clone());
                push_receiver(
                    &mut call.receivers,
                    Receiver {
                        addr,
                        role,
                        payloads,
                    },
                );
            }
        }
        StartLine::Request { method, .. } if method == "BYE" || method == "CANCEL" => {
            if let Some(call) = calls.get_mut(&call_id) {
                call.last_at = call.last_at.max(d.at);
            }
        }
        _ => {
            if let Some(call) = calls.get_mut(&call_id) {
                call.last_at = call.last_at.max(d.at);
            }
        }
    }
}

fn push_receiver(receivers: &mut Vec<Receiver>, r: Receiver) {
    if !receivers.iter().any(|x| x.addr == r.addr) {
        receivers.push(r);
    }
}
