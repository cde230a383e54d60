//! The shared bad-input corpus (fixtures/bad/EXPECTED.toml): captures, RTP packets, SIP.

#[path = "../../../fixtures/bad/corpus.rs"]
mod corpus;

use callscore_capture::pcap;
use callscore_capture::rtp::RtpPacket;
use callscore_capture::sip::{self, Parsed};
use callscore_capture::track::{PayloadMap, StreamTrack, TrackConfig};
use std::time::Duration;

#[test]
fn captures() {
    corpus::check("pcap", true, |path| {
        let report = pcap::import(path, &TrackConfig::default()).map_err(|e| e.to_string())?;
        let mut notes: Vec<String> = report.broken.iter().map(|b| b.to_string()).collect();
        for call in report.calls {
            if let Some(a) = call.assemble() {
                assert!(a.channels.iter().all(|c| c.len() == a.channels[0].len()));
                notes.push(format!("call of {} ms", a.duration_ms));
            }
        }
        Ok(notes)
    });
}

#[test]
fn rtp_packets() {
    corpus::check("rtp", false, |path| {
        let bytes = std::fs::read(path).unwrap();
        // A track takes the same datagram without falling over, whatever parse says.
        let mut track = StreamTrack::new(PayloadMap::default(), TrackConfig::default());
        track.push(Duration::ZERO, &bytes);
        track.push(Duration::from_millis(20), &bytes);
        let result = track.finish();
        let packet = RtpPacket::parse(&bytes).map_err(|e| e.to_string())?;
        Ok(vec![format!("{packet:?}"), format!("{:?}", result.stats)])
    });
}

#[test]
fn sip_messages() {
    corpus::check("sip", false, |path| {
        let bytes = std::fs::read(path).unwrap();
        match sip::parse(&bytes) {
            Parsed::Message(m) => {
                // The answer to it can be built too.
                let _ = sip::response(&m, 200, Some("t1"), &[], None);
                Ok(vec![format!("{:?}", m.method())])
            }
            Parsed::BadRequest(m, why) => {
                let _ = sip::response(&m, 400, None, &[], None);
                Err(format!("bad request (answered 400): {why}"))
            }
            Parsed::Garbage(why) => Err(format!("dropped: {why}")),
        }
    });
}
