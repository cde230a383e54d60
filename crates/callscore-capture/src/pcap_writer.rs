//! Writes classic pcap captures of UDP datagrams (Ethernet/IPv4 or IPv6), for tests, benchmarks
//! and fixtures: SIP and RTP traffic made in code, then read back by [`crate::pcap::import`] or
//! replayed by sipp.

use etherparse::PacketBuilder;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

/// A UDP datagram at a capture time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub at: Duration,
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub payload: Vec<u8>,
}

/// Encodes one datagram as an Ethernet frame.
pub fn ethernet_frame(d: &Datagram) -> Vec<u8> {
    let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let builder = match (d.from, d.to) {
        (SocketAddr::V4(a), SocketAddr::V4(b)) => eth
            .ipv4(a.ip().octets(), b.ip().octets(), 64)
            .udp(a.port(), b.port()),
        (a, b) => {
            let v6 = |s: SocketAddr| match s {
                SocketAddr::V6(x) => x.ip().octets(),
                SocketAddr::V4(x) => x.ip().to_ipv6_mapped().octets(),
            };
            eth.ipv6(v6(a), v6(b), 64).udp(a.port(), b.port())
        }
    };
    let mut out = Vec::with_capacity(builder.size(d.payload.len()));
    // Writing into a Vec cannot fail; a payload too large for UDP is the only error.
    if builder.write(&mut out, &d.payload).is_err() {
        out.clear();
    }
    out
}

/// Writes `datagrams` as a little-endian, microsecond pcap with Ethernet link type.
pub fn write_pcap<W: Write>(out: W, datagrams: &[Datagram]) -> Result<(), pcap_file::PcapError> {
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        ..Default::default()
    };
    let mut writer = PcapWriter::with_header(out, header)?;
    for d in datagrams {
        let frame = ethernet_frame(d);
        writer.write_packet(&PcapPacket::new(d.at, frame.len() as u32, &frame))?;
    }
    Ok(())
}
