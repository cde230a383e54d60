//! SIPREC (RFC 7866) INVITE bodies: multipart/mixed with an SDP and the recording metadata
//! (RFC 7865, `application/rs-metadata+xml`), read with quick-xml.

use callscore_core::Speaker;
use quick_xml::events::Event;
use quick_xml::Reader;
use std::collections::HashMap;

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyPart {
    /// Lower-cased media type without parameters, e.g. `application/sdp`.
    pub content_type: String,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiprecError {
    #[error("multipart body without a boundary parameter in Content-Type")]
    NoBoundary,
    #[error("multipart body has no part delimited by boundary '{0}'")]
    NoParts(String),
    #[error("recording metadata is not well-formed XML: {0}")]
    Xml(String),
}

/// Splits a multipart body (RFC 2046 section 5.1). Written by hand: the multipart crates are for
/// HTTP forms or e-mail and bring async runtimes or full MIME stacks for what is a split on
/// delimiter lines.
pub fn split_multipart(content_type: &str, body: &[u8]) -> Result<Vec<BodyPart>, SiprecError> {
    let boundary = content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .ok_or(SiprecError::NoBoundary)?;
    let delimiter = format!("--{boundary}");
    let text = body;
    let mut parts = Vec::new();
    let positions: Vec<usize> = find_all(text, delimiter.as_bytes());
    for pair in positions.windows(2) {
        let start = pair[0] + delimiter.len();
        let mut chunk = &text[start..pair[1]];
        // The delimiter owns the CRLF before it; the part starts after the delimiter's line.
        chunk = chunk
            .strip_prefix(b"\r\n")
            .or_else(|| chunk.strip_prefix(b"\n"))
            .unwrap_or(chunk);
        chunk = chunk
            .strip_suffix(b"\r\n")
            .or_else(|| chunk.strip_suffix(b"\n"))
            .unwrap_or(chunk);
        let (headers, part_body) = match find_all(chunk, b"\r\n\r\n").first() {
            Some(&i) => (&chunk[..i], &chunk[i + 4..]),
            None => match find_all(chunk, b"\n\n").first() {
                Some(&i) => (&chunk[..i], &chunk[i + 2..]),
                None => (&b""[..], chunk),
            },
        };
        let headers = String::from_utf8_lossy(headers);
        let content_type = headers
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| {
                k.trim().eq_ignore_ascii_case("content-type") || k.trim().eq_ignore_ascii_case("c")
            })
            .map(|(_, v)| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_else(|| "text/plain".into());
        parts.push(BodyPart {
            content_type,
            body: part_body.to_vec(),
        });
    }
    if parts.is_empty() {
        return Err(SiprecError::NoParts(boundary));
    }
    Ok(parts)
}

fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return Vec::new();
    }
    (0..=haystack.len() - needle.len())
        .filter(|&i| &haystack[i..i + needle.len()] == needle)
        .collect()
}

/// A participant of the recorded call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Participant {
    pub id: String,
    pub aor: Option<String>,
    pub name: Option<String>,
    /// A role stated in the metadata by a vendor extension (`<role>agent</role>` or similar).
    pub stated_role: Option<Speaker>,
    /// Stream ids this participant sends.
    pub sends: Vec<String>,
}

/// The parts of the recording metadata that matter for recording: who sends which labelled stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordingMetadata {
    pub participants: Vec<Participant>,
    /// stream id → SDP label.
    pub stream_labels: HashMap<String, String>,
}

impl RecordingMetadata {
    pub fn parse(xml: &str) -> Result<RecordingMetadata, SiprecError> {
        let mut reader = Reader::from_str(xml);
        let mut meta = RecordingMetadata::default();
        let mut path: Vec<String> = Vec::new();
        // Text of the innermost open element; quick-xml reports entity references separately.
        let mut text = String::new();
        let mut participant: Option<Participant> = None;
        let mut stream_id: Option<String> = None;
        let mut assoc: Option<(String, Vec<String>)> = None;
        loop {
            let event = reader.read_event().map_err(|e| {
                SiprecError::Xml(format!("at byte {}: {e}", reader.buffer_position()))
            })?;
            match &event {
                Event::Start(e) | Event::Empty(e) => {
                    let name = String::from_utf8_lossy(e.local_name().as_ref()).to_string();
                    let attr = |key: &str| {
                        e.attributes()
                            .flatten()
                            .find(|a| a.key.local_name().as_ref() == key.as_bytes())
                            .and_then(|a| a.unescape_value().ok())
                            .map(|v| v.to_string())
                    };
                    match name.as_str() {
                        "participant" => {
                            participant = Some(Participant {
                                id: attr("participant_id")
                                    .or_else(|| attr("id"))
                                    .unwrap_or_default(),
                                ..Default::default()
                            })
                        }
                        "nameID" => {
                            if let (Some(p), Some(aor)) = (participant.as_mut(), attr("aor")) {
                                p.aor = Some(aor);
                            }
                        }
                        "stream" => stream_id = attr("stream_id").or_else(|| attr("id")),
                        "participantstreamassoc" => {
                            assoc = Some((attr("participant_id").unwrap_or_default(), Vec::new()))
                        }
                        _ => {}
                    }
                    text.clear();
                    if matches!(event, Event::Start(_)) {
                        path.push(name);
                    }
                }
                Event::Text(t) => {
                    text.push_str(
                        &t.xml_content()
                            .map_err(|e| SiprecError::Xml(e.to_string()))?,
                    );
                }
                Event::CData(t) => text.push_str(&String::from_utf8_lossy(t.as_ref())),
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => Some(c.to_string()),
                        _ => quick_xml::escape::resolve_predefined_entity(
                            &String::from_utf8_lossy(r.as_ref()),
                        )
                        .map(str::to_string),
                    };
                    text.push_str(&resolved.unwrap_or_default());
                }
                Event::End(e) => {
                    let name = String::from_utf8_lossy(e.local_name().as_ref()).to_string();
                    path.pop();
                    let value = text.trim().to_string();
                    text.clear();
                    match name.as_str() {
                        "name" if !value.is_empty() => {
                            if let Some(p) = participant.as_mut() {
                                p.name.get_or_insert(value);
                            }
                        }
                        "aor" if !value.is_empty() => {
                            if let Some(p) = participant.as_mut() {
                                p.aor.get_or_insert(value);
                            }
                        }
                        "role" | "participantRole" => {
                            if let (Some(p), Ok(role)) =
                                (participant.as_mut(), value.parse::<Speaker>())
                            {
                                p.stated_role = Some(role);
                            }
                        }
                        "label" => {
                            if let Some(id) = &stream_id {
                                meta.stream_labels.insert(id.clone(), value);
                            }
                        }
                        "send" if !value.is_empty() => {
                            if let Some((_, sends)) = assoc.as_mut() {
                                sends.push(value);
                            } else if let Some(p) = participant.as_mut() {
                                // RFC 6341-era documents put <send> inside <participant>.
                                p.sends.push(value);
                            }
                        }
                        "participant" => {
                            if let Some(p) = participant.take() {
                                meta.participants.push(p);
                            }
                        }
                        "stream" => stream_id = None,
                        "participantstreamassoc" => {
                            if let Some((id, sends)) = assoc.take() {
                                meta.participants.push(Participant {
                                    id,
                                    sends,
                                    ..Default::default()
                                });
                            }
                        }
                        _ => {}
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if !path.is_empty() {
            return Err(SiprecError::Xml(format!(
                "document ends inside <{}>",
                path.join("><")
            )));
        }
        // Associations can come before their participant element; merge entries with the same id.
        let mut merged: Vec<Participant> = Vec::new();
        for p in meta.participants.drain(..) {
            if let Some(existing) = merged.iter_mut().find(|m| !p.id.is_empty() && m.id == p.id) {
                existing.sends.extend(p.sends);
                existing.aor = existing.aor.take().or(p.aor);
                existing.name = existing.name.take().or(p.name);
                existing.stated_role = existing.stated_role.or(p.stated_role);
            } else {
                merged.push(p);
            }
        }
        meta.participants = merged;
        Ok(meta)
    }

    /// The role of every participant: a role the metadata states wins; otherwise the first
    /// participant listed is the caller and the second the agent. That default follows the order
    /// in which SRCs list the communication session's parties (originator first) on an inbound
    /// contact-centre call.
    pub fn roles(&self) -> Vec<(Speaker, &Participant)> {
        let stated: Vec<Speaker> = self
            .participants
            .iter()
            .filter_map(|p| p.stated_role)
            .collect();
        let mut next_default = [Speaker::Caller, Speaker::Agent]
            .into_iter()
            .filter(|r| !stated.contains(r));
        self.participants
            .iter()
            .map(|p| {
                (
                    p.stated_role
                        .unwrap_or_else(|| next_default.next().unwrap_or(Speaker::Unknown)),
                    p,
                )
            })
            .collect()
    }

    /// Who sends the stream with this SDP label, and in which role.
    pub fn sender_of_label(&self, label: &str) -> Option<(Speaker, &Participant)> {
        let stream_ids: Vec<&String> = self
            .stream_labels
            .iter()
            .filter(|(_, l)| l.as_str() == label)
            .map(|(id, _)| id)
            .collect();
        self.roles()
            .into_iter()
            .find(|(_, p)| p.sends.iter().any(|s| stream_ids.contains(&s)))
    }

    /// The display name, or the user part of the address of record, of the participant in `role`.
    pub fn name_of(&self, role: Speaker) -> Option<String> {
        let (_, p) = self.roles().into_iter().find(|(r, _)| *r == role)?;
        p.name.clone().or_else(|| p.aor.as_deref().map(user_part))
    }
}

fn user_part(aor: &str) -> String {
    let s = aor
        .trim_start_matches("sip:")
        .trim_start_matches("sips:")
        .trim_start_matches("tel:");
    s.split('@').next().unwrap_or(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const METADATA: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<recording xmlns='urn:ietf:params:xml:ns:recording:1'>
  <datamode>complete</datamode>
  <session session_id="hVpd7YQgRW2nD22h7q60JQ=="><sipSessionID>ab30317f1a784dc4</sipSessionID></session>
  <participant participant_id="caller1">
    <nameID aor="sip:michael@example.net"><name xml:lang="en">Michael Turner</name></nameID>
  </participant>
  <participant participant_id="agent1">
    <nameID aor="sip:sarah@callcentre.example"><name xml:lang="en">Sarah &amp; Co</name></nameID>
  </participant>
  <stream stream_id="s1" session_id="hVpd7YQgRW2nD22h7q60JQ=="><label>1</label></stream>
  <stream stream_id="s2" session_id="hVpd7YQgRW2nD22h7q60JQ=="><label>2</label></stream>
  <participantstreamassoc participant_id="caller1"><send>s1</send><recv>s2</recv></participantstreamassoc>
  <participantstreamassoc participant_id="agent1"><send>s2</send><recv>s1</recv></participantstreamassoc>
</recording>"#;

    #[test]
    fn maps_labels_to_roles_and_names() {
        let m = RecordingMetadata::parse(METADATA).unwrap();
        assert_eq!(m.participants.len(), 2);
        let (role, p) = m.sender_of_label("1").unwrap();
        assert_eq!(
            (role, p.name.as_deref()),
            (Speaker::Caller, Some("Michael Turner"))
        );
        let (role, p) = m.sender_of_label("2").unwrap();
        assert_eq!(
            (role, p.name.as_deref()),
            (Speaker::Agent, Some("Sarah & Co"))
        );
        assert_eq!(
            m.name_of(Speaker::Caller).as_deref(),
            Some("Michael Turner")
        );
        assert!(m.sender_of_label("3").is_none());
    }

    #[test]
    fn a_stated_role_wins_over_order() {
        let xml = METADATA.replace(
            r#"<participant participant_id="caller1">"#,
            r#"<participant participant_id="caller1"><role>agent</role>"#,
        );
        let m = RecordingMetadata::parse(&xml).unwrap();
        assert_eq!(m.sender_of_label("1").unwrap().0, Speaker::Agent);
        assert_eq!(m.sender_of_label("2").unwrap().0, Speaker::Caller);
    }

    #[test]
    fn broken_xml_is_an_error() {
        assert!(RecordingMetadata::parse("<recording><participant></recording>").is_err());
    }

    #[test]
    fn splits_a_multipart_body() {
        let body = b"--XyZ\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n--XyZ\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n<recording/>\r\n--XyZ--\r\n";
        let parts = split_multipart("multipart/mixed;boundary=\"XyZ\"", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].content_type, "application/sdp");
        assert_eq!(parts[0].body, b"v=0\r\n");
        assert_eq!(parts[1].content_type, "application/rs-metadata+xml");
        assert_eq!(parts[1].body, b"<recording/>");
        assert_eq!(
            split_multipart("multipart/mixed", body),
            Err(SiprecError::NoBoundary)
        );
    }
}
