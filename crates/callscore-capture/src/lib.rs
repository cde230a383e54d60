//! Call capture: a SIP/SIPREC recording endpoint, a calling SIP client, RTP with G.711 and DTMF, a jitter buffer, and
//! pcap/pcapng import. Every call becomes a WAV (stereo: agent left, caller right; mono when only
//! one stream was offered) plus a sidecar `NAME.json` holding [`callscore_core::CallMeta`].
//!
//! **Architecture invariant:** this crate knows nothing about transcription, rubrics or the
//! database. It hands finished recordings to whoever runs it ([`server::Recorder::run`] sends
//! them down a channel; [`pcap::import`] returns them), and never prints or exits.
//!
//! Map:
//! - [`g711`], [`rtp`]: payload decoding; [`jitter`]: the reordering buffer; [`track`]: one
//!   stream's RTP turned into a PCM timeline with DTMF events.
//! - [`sdp`], [`siprec`], [`sip`]: signalling (offers/answers, RFC 7866 metadata, SIP messages).
//! - [`call`]: legs of one call assembled and written atomically; [`spool`]: what a call in
//!   progress has received, on disk, so a killed recorder recovers it on restart.
//! - [`server`]: the live UDP endpoint (tokio); [`pcap`]: offline import; [`pcap_writer`]: writes
//!   captures (tests, benchmarks, fixtures).
//! - [`uac`]: the calling side, a SIP user agent client that places one call and runs its media
//!   with a [`uac::CallDriver`] deciding what to say; [`rtp_sender`]: numbering of sent packets.

pub mod call;
pub mod g711;
pub mod jitter;
pub mod pcap;
pub mod pcap_writer;
pub mod rtp;
pub mod rtp_sender;
pub mod sdp;
pub mod server;
pub mod sip;
pub mod siprec;
pub mod spool;
pub mod track;
pub mod uac;

pub use call::{AssembledCall, CallRecording, RecordedLeg, WrittenCall};
pub use server::{EndReason, FinishedCall, Recorder, RecorderConfig, RecorderStats};

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot write WAV: {source}")]
    Wav { path: PathBuf, source: hound::Error },
    #[error("recording folder {path}: {reason}")]
    OutDir { path: PathBuf, reason: String },
    #[error("cannot listen for SIP on {addr}: {source}")]
    BindSip {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("RTP port range {first}-{last} is invalid: {reason}")]
    PortRange {
        first: u16,
        last: u16,
        reason: String,
    },
    #[error("{path}: not a pcap or pcapng capture: {reason}")]
    NotACapture { path: PathBuf, reason: String },
    #[error("cannot place the call to {target}: {reason}")]
    Dial { target: String, reason: String },
    #[error("{path}: link type {link_type} is not supported (Ethernet, Linux cooked SLL/SLL2, raw IP and BSD loopback are)")]
    LinkType { path: PathBuf, link_type: String },
}
