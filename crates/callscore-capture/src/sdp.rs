//! SDP offers (RFC 4566) read with webrtc-sdp, the recorder's answers (RFC 3264), and the
//! offers of a calling client ([`write_offer`]; its answer is read with [`parse_offer`] too).

use crate::g711::G711;
use crate::track::{PayloadKind, PayloadMap};
use std::net::{IpAddr, SocketAddr};
use webrtc_sdp::address::ExplicitlyTypedAddress;
use webrtc_sdp::attribute_type::SdpAttribute;
use webrtc_sdp::media_type::{SdpFormatList, SdpMediaValue};

/// One `m=` line of an offer, reduced to what recording needs.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaOffer {
    /// Position among the offer's `m=` lines (answers must keep the order and count).
    pub index: usize,
    pub is_audio: bool,
    /// Where the offerer receives; None when the port is 0 (stream disabled) or the address is
    /// not an IP.
    pub address: Option<SocketAddr>,
    pub port: u16,
    pub proto: String,
    /// Payload types in the offer's order of preference.
    pub formats: Vec<u8>,
    /// SIPREC stream label (`a=label`, RFC 4574).
    pub label: Option<String>,
    /// The G.711 variant to receive, the first one the offer prefers; None: nothing decodable.
    pub codec: Option<(u8, G711)>,
    pub telephone_event: Option<u8>,
    pub payloads: PayloadMap,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SdpError(pub String);

/// Parses an offer. Unknown attributes are tolerated (warnings only), as PBXes send many.
pub fn parse_offer(text: &str) -> Result<Vec<MediaOffer>, SdpError> {
    let session =
        webrtc_sdp::parse_sdp(text, false).map_err(|e| SdpError(format!("unreadable SDP: {e}")))?;
    let session_ip = session.connection.as_ref().and_then(|c| ip_of(&c.address));
    let mut out = Vec::new();
    for (index, media) in session.media.iter().enumerate() {
        let media_ip = media
            .get_connection()
            .as_ref()
            .and_then(|c| ip_of(&c.address))
            .or(session_ip);
        let port = media.get_port() as u16;
        let formats: Vec<u8> = match media.get_formats() {
            SdpFormatList::Integers(v) => v.iter().filter_map(|&f| u8::try_from(f).ok()).collect(),
            _ => Vec::new(),
        };
        let mut entries = Vec::new();
        let mut label = None;
        let mut telephone_event = None;
        for attr in media.get_attributes() {
            match attr {
                SdpAttribute::Rtpmap(map) => {
                    let name = map.codec_name.to_ascii_uppercase();
                    let kind = match (name.as_str(), map.frequency) {
                        ("PCMU", 8000) => Some(PayloadKind::Audio(G711::Ulaw)),
                        ("PCMA", 8000) => Some(PayloadKind::Audio(G711::Alaw)),
                        ("TELEPHONE-EVENT", 8000) => Some(PayloadKind::TelephoneEvent),
                        ("CN", _) => Some(PayloadKind::ComfortNoise),
                        _ => None,
                    };
                    if let Some(kind) = kind {
                        if kind == PayloadKind::TelephoneEvent
                            && telephone_event.is_none()
                            && formats.contains(&map.payload_type)
                        {
                            telephone_event = Some(map.payload_type);
                        }
                        entries.push((map.payload_type, kind));
                    }
                }
                SdpAttribute::Label(l) => label = Some(l.clone()),
                _ => {}
            }
        }
        let payloads = PayloadMap::from_sdp(entries);
        let codec = formats.iter().find_map(|&pt| match payloads.kind(pt, &[]) {
            Some(PayloadKind::Audio(c)) => Some((pt, c)),
            _ => None,
        });
        out.push(MediaOffer {
            index,
            is_audio: *media.get_type() == SdpMediaValue::Audio,
            address: media_ip
                .filter(|_| port != 0)
                .map(|ip| SocketAddr::new(ip, port)),
            port,
            proto: media.get_proto().to_string(),
            formats,
            label,
            codec,
            telephone_event,
            payloads,
        });
    }
    Ok(out)
}

fn ip_of(address: &ExplicitlyTypedAddress) -> Option<IpAddr> {
    match address {
        ExplicitlyTypedAddress::Ip(ip) => Some(*ip),
        ExplicitlyTypedAddress::Fqdn { .. } => None,
    }
}

/// What the recorder answers for one offered `m=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaAnswer {
    /// Receive on this port with this codec (and telephone-event type).
    Receive {
        port: u16,
        codec: (u8, G711),
        telephone_event: Option<u8>,
    },
    /// Rejected (port 0), keeping the offer's format list as RFC 3264 requires.
    Reject,
}

/// Writes an SDP answer. The recorder only ever receives, so every accepted stream is `recvonly`.
pub fn write_answer(
    local_ip: IpAddr,
    session_version: u64,
    offers: &[MediaOffer],
    answers: &[MediaAnswer],
) -> String {
    let family = if local_ip.is_ipv4() { "IP4" } else { "IP6" };
    let mut sdp = format!("v=0\r\no=callscore {session_version} {session_version} IN {family} {local_ip}\r\ns=callscore recording\r\nc=IN {family} {local_ip}\r\nt=0 0\r\n");
    for (offer, answer) in offers.iter().zip(answers) {
        let media = if offer.is_audio {
            "audio"
        } else {
            "application"
        };
        match answer {
            MediaAnswer::Receive {
                port,
                codec,
                telephone_event,
            } => {
                let mut fmts = codec.0.to_string();
                if let Some(te) = telephone_event {
                    fmts.push_str(&format!(" {te}"));
                }
                sdp.push_str(&format!("m={media} {port} {} {fmts}\r\n", offer.proto));
                sdp.push_str(&format!(
                    "a=rtpmap:{} {}/8000\r\n",
                    codec.0,
                    codec.1.encoding_name()
                ));
                if let Some(te) = telephone_event {
                    sdp.push_str(&format!(
                        "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-16\r\n"
                    ));
                }
                if let Some(label) = &offer.label {
                    sdp.push_str(&format!("a=label:{label}\r\n"));
                }
                sdp.push_str("a=recvonly\r\n");
            }
            MediaAnswer::Reject => {
                let fmts: Vec<String> = offer.formats.iter().map(|f| f.to_string()).collect();
                let fmts = if fmts.is_empty() {
                    "0".to_string()
                } else {
                    fmts.join(" ")
                };
                sdp.push_str(&format!("m={media} 0 {} {fmts}\r\n", offer.proto));
            }
        }
    }
    sdp
}

/// Writes the offer of a client that sends and receives one audio stream: the G.711 codecs in
/// the order given (payload types 0 and 8), RFC 4733 telephone-event as `telephone_event`, 20 ms
/// packets, `sendrecv`.
pub fn write_offer(
    local_ip: IpAddr,
    session_id: u64,
    port: u16,
    codecs: &[G711],
    telephone_event: Option<u8>,
) -> String {
    let family = if local_ip.is_ipv4() { "IP4" } else { "IP6" };
    let mut fmts: Vec<String> = codecs
        .iter()
        .map(|c| c.payload_type().to_string())
        .collect();
    if let Some(te) = telephone_event {
        fmts.push(te.to_string());
    }
    let mut sdp = format!(
        "v=0\r\no=callscore {session_id} {session_id} IN {family} {local_ip}\r\ns=callscore\r\nc=IN {family} {local_ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {}\r\n",
        fmts.join(" ")
    );
    for c in codecs {
        sdp.push_str(&format!(
            "a=rtpmap:{} {}/8000\r\n",
            c.payload_type(),
            c.encoding_name()
        ));
    }
    if let Some(te) = telephone_event {
        sdp.push_str(&format!(
            "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-16\r\n"
        ));
    }
    sdp.push_str("a=ptime:20\r\na=sendrecv\r\n");
    sdp
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIPP_OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-11,16\r\n";

    #[test]
    fn reads_sipps_offer() {
        let offers = parse_offer(SIPP_OFFER).unwrap();
        assert_eq!(offers.len(), 1);
        let o = &offers[0];
        assert_eq!(o.address, Some("127.0.0.1:6000".parse().unwrap()));
        assert_eq!(o.codec, Some((8, G711::Alaw)));
        assert_eq!(o.telephone_event, Some(101));
        assert!(o.is_audio);
    }

    #[test]
    fn reads_a_siprec_offer_with_labels_and_media_level_connection() {
        let sdp = "v=0\r\no=SRC 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 0\r\nc=IN IP4 10.0.0.2\r\na=rtpmap:0 PCMU/8000\r\na=label:1\r\na=sendonly\r\na=silenceSupp:off - - - -\r\nm=audio 4002 RTP/AVP 0\r\nc=IN IP4 10.0.0.2\r\na=label:2\r\na=sendonly\r\n";
        let offers = parse_offer(sdp).unwrap();
        assert_eq!(offers.len(), 2);
        assert_eq!(offers[0].label.as_deref(), Some("1"));
        assert_eq!(
            offers[0].codec,
            Some((0, G711::Ulaw)),
            "G.729 is skipped for PCMU"
        );
        assert_eq!(offers[1].address, Some("10.0.0.2:4002".parse().unwrap()));
        assert_eq!(offers[1].telephone_event, None);
    }

    #[test]
    fn the_answer_parses_back_and_rejects_what_it_cannot_record() {
        let mut offers = parse_offer(SIPP_OFFER).unwrap();
        offers.push(MediaOffer {
            index: 1,
            is_audio: false,
            address: None,
            port: 9,
            proto: "RTP/AVP".into(),
            formats: vec![31],
            label: None,
            codec: None,
            telephone_event: None,
            payloads: PayloadMap::default(),
        });
        let answers = [
            MediaAnswer::Receive {
                port: 20000,
                codec: (8, G711::Alaw),
                telephone_event: Some(101),
            },
            MediaAnswer::Reject,
        ];
        let text = write_answer("127.0.0.1".parse().unwrap(), 7, &offers, &answers);
        let back = webrtc_sdp::parse_sdp(&text, true).unwrap();
        assert_eq!(back.media.len(), 2);
        assert_eq!(back.media[0].get_port(), 20000);
        assert_eq!(back.media[1].get_port(), 0);
        assert!(text.contains("a=recvonly\r\n"));
    }

    #[test]
    fn a_client_offer_reads_back_with_both_codecs_and_events() {
        let text = write_offer(
            "127.0.0.1".parse().unwrap(),
            42,
            40000,
            &[G711::Ulaw, G711::Alaw],
            Some(101),
        );
        let offers = parse_offer(&text).unwrap();
        assert_eq!(offers.len(), 1);
        assert_eq!(offers[0].address, Some("127.0.0.1:40000".parse().unwrap()));
        assert_eq!(offers[0].formats, vec![0, 8, 101]);
        assert_eq!(offers[0].codec, Some((0, G711::Ulaw)));
        assert_eq!(offers[0].telephone_event, Some(101));
        assert!(text.contains("a=sendrecv\r\n"));
        // A peer that answers with A-law only: the answer's first codec is the one to send.
        let answer = text.replace("RTP/AVP 0 8 101", "RTP/AVP 8 101");
        assert_eq!(
            parse_offer(&answer).unwrap()[0].codec,
            Some((8, G711::Alaw))
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_offer("hello").is_err());
        assert!(parse_offer("").is_err());
    }
}
