//! SIP messages (RFC 3261) over UDP: parsing with rsip, lenient fallback for error replies, and
//! building responses.

use rsip::headers::{ToTypedHeader, UntypedHeader};
use rsip::{Header, Headers, SipMessage, StatusCode, Version};

/// The methods the recorder implements (sent in `Allow`).
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS";
/// Option tags the recorder supports (`Supported`; anything else in `Require` gets a 420).
pub const SUPPORTED: &[&str] = &["siprec"];
/// Body types an INVITE may carry (`Accept`).
pub const ACCEPT: &str = "application/sdp, multipart/mixed, application/rs-metadata+xml";

/// RFC 3261 compact header forms (section 7.3.3) and the full names rsip knows.
const COMPACT: &[(&str, &str)] = &[
    ("i", "Call-ID"),
    ("f", "From"),
    ("t", "To"),
    ("v", "Via"),
    ("m", "Contact"),
    ("l", "Content-Length"),
    ("c", "Content-Type"),
    ("k", "Supported"),
    ("s", "Subject"),
    ("e", "Content-Encoding"),
];

/// A parsed SIP message: start line, headers in order (full names), body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub start: StartLine,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    Request { method: String, uri: String },
    Response { code: u16 },
}

/// What came out of a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Message(Message),
    /// A request that is wrong but has enough headers (Via, From, To, Call-ID, CSeq) to answer 400.
    BadRequest(Message, String),
    /// Not answerable: drop it.
    Garbage(String),
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn method(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    pub fn call_id(&self) -> Option<&str> {
        self.header("Call-ID")
    }

    /// Every value of a header that may repeat or hold a comma-separated list (Record-Route,
    /// Via), in order, split at commas outside `<…>` and quotes.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| split_list(v))
            .collect()
    }

    /// The CSeq number and method.
    pub fn cseq(&self) -> Option<(u32, String)> {
        let mut it = self.header("CSeq")?.split_whitespace();
        Some((it.next()?.parse().ok()?, it.next()?.to_ascii_uppercase()))
    }

    /// The `tag` parameter of a From/To header.
    pub fn tag_of(&self, header: &str) -> Option<String> {
        let value = self.header(header)?;
        // Parameters after the name-addr's closing '>' (or after the URI when there is none).
        let params = value.rsplit_once('>').map(|(_, p)| p).unwrap_or(value);
        params
            .split(';')
            .skip(1)
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("tag"))
            .map(|(_, v)| v.trim().to_string())
    }

    /// The first Via's branch parameter.
    pub fn branch(&self) -> Option<String> {
        let via = self.header("Via")?;
        via.split(',')
            .next()?
            .split(';')
            .skip(1)
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("branch"))
            .map(|(_, v)| v.trim().to_string())
    }

    /// Content-Type without parameters, lower-cased; and the full value.
    pub fn content_type(&self) -> Option<(String, &str)> {
        let v = self.header("Content-Type")?;
        Some((
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase(),
            v,
        ))
    }

    /// Option tags in `Require` that the recorder does not support.
    pub fn unsupported_requirements(&self) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("Require"))
            .flat_map(|(_, v)| v.split(','))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty() && !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .collect()
    }
}

/// Splits a header list value at commas that are outside `<…>` and double quotes.
fn split_list(value: &str) -> Vec<String> {
    let (mut out, mut current) = (Vec::new(), String::new());
    let (mut angle, mut quoted) = (false, false);
    for c in value.chars() {
        match c {
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !angle && !quoted => {
                out.push(std::mem::take(&mut current).trim().to_string());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out.retain(|v| !v.is_empty());
    out
}

/// The URI of a name-addr or addr-spec header value: `"Bob" <sip:bob@host>;tag=1` gives
/// `sip:bob@host`, `sip:bob@host;tag=1` gives `sip:bob@host`.
pub fn uri_of(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => value[a + 1..b].trim(),
        _ => value.split(';').next().unwrap_or(value).trim(),
    }
}

/// Builds a request: the start line from `method` and `uri`, then `headers` in the order given,
/// then `User-Agent`, `Content-Type` (with a body) and `Content-Length`. The method and URI are
/// checked by rsip; the error says which one is wrong.
pub fn request(
    method: &str,
    uri: &str,
    headers: &[(&str, String)],
    body: Option<(&str, &[u8])>,
) -> Result<Vec<u8>, String> {
    let method: rsip::Method = method
        .parse()
        .map_err(|e| format!("bad SIP method {method:?}: {e}"))?;
    // rsip reads almost anything as a URI; a request line must not carry spaces or line breaks,
    // and needs a scheme.
    let scheme_ok = uri.split_once(':').is_some_and(|(s, rest)| {
        ["sip", "sips", "tel"]
            .iter()
            .any(|k| s.eq_ignore_ascii_case(k))
            && !rest.is_empty()
    });
    if !scheme_ok || uri.chars().any(char::is_whitespace) {
        return Err(format!(
            "bad SIP URI {uri:?}: expected sip:user@host[:port] without spaces"
        ));
    }
    if let Some((name, _)) = headers.iter().find(|(_, v)| v.contains(['\r', '\n'])) {
        return Err(format!("the {name} header holds a line break"));
    }
    let uri = rsip::Uri::try_from(uri).map_err(|e| format!("bad SIP URI {uri:?}: {e}"))?;
    let mut list: Vec<Header> = headers
        .iter()
        .map(|(n, v)| Header::Other(n.to_string(), v.clone()))
        .collect();
    list.push(Header::Other(
        "User-Agent".into(),
        concat!("callscore/", env!("CARGO_PKG_VERSION")).into(),
    ));
    let body_bytes = body.map(|(_, b)| b.to_vec()).unwrap_or_default();
    if let Some((content_type, _)) = body {
        list.push(Header::ContentType(rsip::headers::ContentType::new(
            content_type,
        )));
    }
    list.push(Header::ContentLength(rsip::headers::ContentLength::new(
        body_bytes.len().to_string(),
    )));
    let request = rsip::Request {
        method,
        uri,
        version: Version::V2,
        headers: Headers::from(list),
        body: body_bytes,
    };
    Ok(Vec::from(request))
}

fn full_name(name: &str) -> String {
    COMPACT
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(name))
        .map(|(_, full)| full.to_string())
        .unwrap_or_else(|| name.to_string())
}

fn split_header(rendered: &str) -> Option<(String, String)> {
    let (name, value) = rendered.split_once(':')?;
    Some((full_name(name.trim()), value.trim().to_string()))
}

const REQUIRED: &[&str] = &["Via", "From", "To", "Call-ID", "CSeq"];

/// Parses one datagram. rsip does the parsing; requests rsip refuses (unknown method, broken
/// header) are scanned leniently so they can still get a 400 or 501 instead of silence.
pub fn parse(datagram: &[u8]) -> Parsed {
    // Keep-alive CRLFs (RFC 5626) and empty datagrams carry nothing to answer.
    if datagram.iter().all(|b| b.is_ascii_whitespace()) {
        return Parsed::Garbage("empty datagram".into());
    }
    match SipMessage::try_from(datagram) {
        Ok(msg) => {
            let (start, headers, body) = match msg {
                SipMessage::Request(r) => (
                    StartLine::Request {
                        method: r.method.to_string(),
                        uri: r.uri.to_string(),
                    },
                    r.headers,
                    r.body,
                ),
                SipMessage::Response(r) => (
                    StartLine::Response {
                        code: r.status_code.code(),
                    },
                    r.headers,
                    r.body,
                ),
            };
            let headers: Vec<(String, String)> = headers
                .iter()
                .filter_map(|h| split_header(&h.to_string()))
                .collect();
            check(Message {
                start,
                headers,
                body,
            })
        }
        Err(e) => match scan(datagram) {
            Some(message) => {
                let known = rsip::Method::all()
                    .iter()
                    .any(|m| Some(m.to_string().as_str()) == message.method());
                if known || message.method().is_none() {
                    Parsed::BadRequest(message, format!("malformed message: {e}"))
                } else {
                    // A well-formed request with a method rsip does not know: answer 501.
                    check(message)
                }
            }
            None => Parsed::Garbage(format!("not a SIP message: {e}")),
        },
    }
}

/// Checks what the recorder relies on: the mandatory headers and a Content-Length that fits.
fn check(mut message: Message) -> Parsed {
    if message.method().is_none() {
        return Parsed::Message(message);
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|h| message.header(h).is_none())
        .collect();
    if !missing.is_empty() {
        let reason = format!("missing header(s): {}", missing.join(", "));
        return if message.header("Via").is_some() {
            Parsed::BadRequest(message, reason)
        } else {
            Parsed::Garbage(reason)
        };
    }
    if message.cseq().is_none() {
        return Parsed::BadRequest(message, "unreadable CSeq".into());
    }
    if let Some(len) = message.header("Content-Length") {
        match len.trim().parse::<usize>() {
            Ok(n) if n > message.body.len() => {
                let reason = format!(
                    "Content-Length {n} is longer than the body ({} bytes): truncated datagram",
                    message.body.len()
                );
                return Parsed::BadRequest(message, reason);
            }
            Ok(n) => message.body.truncate(n),
            Err(_) => return Parsed::BadRequest(message, "unreadable Content-Length".into()),
        }
    }
    Parsed::Message(message)
}

/// A lenient reading of a request's start line and headers, used only to answer requests rsip
/// refuses. Needs `METHOD SP URI SP SIP/2.0` and `Name: value` lines.
fn scan(datagram: &[u8]) -> Option<Message> {
    // Lossy: a request with a Latin-1 display name is still a request, and gets its 400.
    let text = String::from_utf8_lossy(datagram);
    let text = text.as_ref();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .unwrap_or((text, ""));
    let mut lines = head.lines();
    let mut first = lines.next()?.split(' ');
    let (method, uri, version) = (first.next()?, first.next()?, first.next()?);
    if version.trim() != "SIP/2.0"
        || method.is_empty()
        || !method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
    {
        return None;
    }
    let headers: Vec<(String, String)> = lines.filter_map(split_header).collect();
    Some(Message {
        start: StartLine::Request {
            method: method.to_string(),
            uri: uri.to_string(),
        },
        headers,
        body: body.as_bytes().to_vec(),
    })
}

/// Standard reason phrases (RFC 3261 section 21).
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        420 => "Bad Extension",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "Unknown",
    }
}

/// Builds a response to `request`: Via, From, Call-ID and CSeq copied, To copied with `to_tag`
/// added when it has none (every response but 100 carries the UAS tag).
pub fn response(
    request: &Message,
    code: u16,
    to_tag: Option<&str>,
    extra: &[(&str, String)],
    body: Option<(&str, &[u8])>,
) -> Vec<u8> {
    let mut headers: Vec<Header> = Vec::new();
    for (name, value) in &request.headers {
        let h = match name.as_str() {
            n if n.eq_ignore_ascii_case("Via") => {
                Header::Via(rsip::headers::Via::new(value.clone()))
            }
            n if n.eq_ignore_ascii_case("From") => {
                Header::From(rsip::headers::From::new(value.clone()))
            }
            n if n.eq_ignore_ascii_case("Call-ID") => {
                Header::CallId(rsip::headers::CallId::new(value.clone()))
            }
            n if n.eq_ignore_ascii_case("CSeq") => {
                Header::CSeq(rsip::headers::CSeq::new(value.clone()))
            }
            n if n.eq_ignore_ascii_case("To") => {
                let mut to = value.clone();
                if let (Some(tag), None) = (to_tag, request.tag_of("To")) {
                    to = rsip::headers::To::new(value.clone())
                        .typed()
                        .map(|t| t.with_tag(rsip::param::Tag::new(tag)).to_string())
                        .map(|s| s.trim_start_matches("To:").trim().to_string())
                        .unwrap_or_else(|_| format!("{value};tag={tag}"));
                }
                Header::To(rsip::headers::To::new(to))
            }
            _ => continue,
        };
        headers.push(h);
    }
    for (name, value) in extra {
        headers.push(Header::Other(name.to_string(), value.clone()));
    }
    headers.push(Header::Other(
        "Server".into(),
        concat!("callscore/", env!("CARGO_PKG_VERSION")).into(),
    ));
    let body_bytes = body.map(|(_, b)| b.to_vec()).unwrap_or_default();
    if let Some((content_type, _)) = body {
        headers.push(Header::ContentType(rsip::headers::ContentType::new(
            content_type,
        )));
    }
    headers.push(Header::ContentLength(rsip::headers::ContentLength::new(
        body_bytes.len().to_string(),
    )));
    // rsip would print a known status code's variant name ("RequestTerminated"); the standard
    // reason phrase reads better in every trace.
    let status_code = StatusCode::Other(code, reason_phrase(code).into());
    let response = rsip::Response {
        status_code,
        version: Version::V2,
        headers: Headers::from(headers),
        body: body_bytes,
    };
    Vec::from(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:rec@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1\r\nFrom: sipp <sip:sipp@127.0.0.1:5061>;tag=abc\r\nTo: rec <sip:rec@127.0.0.1:5060>\r\nCall-ID: 1-2@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: sip:sipp@127.0.0.1:5061\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\r\n";

    fn message(text: &str) -> Message {
        match parse(text.as_bytes()) {
            Parsed::Message(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_an_invite() {
        let m = message(INVITE);
        assert_eq!(m.method(), Some("INVITE"));
        assert_eq!(m.call_id(), Some("1-2@127.0.0.1"));
        assert_eq!(m.cseq(), Some((1, "INVITE".into())));
        assert_eq!(m.tag_of("From").as_deref(), Some("abc"));
        assert_eq!(m.tag_of("To"), None);
        assert_eq!(m.branch().as_deref(), Some("z9hG4bK-1"));
        assert_eq!(m.body, b"v=0\r");
    }

    #[test]
    fn compact_headers_are_understood() {
        let text = "BYE sip:rec@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-2\r\nf: <sip:a@b>;tag=1\r\nt: <sip:c@d>;tag=2\r\ni: xyz\r\nCSeq: 2 BYE\r\nl: 0\r\n\r\n";
        let m = message(text);
        assert_eq!(m.call_id(), Some("xyz"));
        assert_eq!(m.tag_of("To").as_deref(), Some("2"));
    }

    #[test]
    fn response_copies_the_transaction_headers_and_adds_a_to_tag() {
        let m = message(INVITE);
        let bytes = response(
            &m,
            200,
            Some("rec1"),
            &[("Contact", "<sip:callscore@127.0.0.1:5060>".into())],
            Some(("application/sdp", b"v=0\r\n")),
        );
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{text}");
        let back = message(&text);
        assert_eq!(back.start, StartLine::Response { code: 200 });
        assert_eq!(back.tag_of("To").as_deref(), Some("rec1"));
        assert_eq!(back.branch().as_deref(), Some("z9hG4bK-1"));
        assert_eq!(back.header("Content-Length"), Some("5"));
        assert_eq!(back.body, b"v=0\r\n");
    }

    #[test]
    fn unknown_methods_and_broken_requests_are_still_answerable() {
        let foo = INVITE
            .replace("INVITE sip", "FOO sip")
            .replace("1 INVITE", "1 FOO");
        assert_eq!(message(&foo).method(), Some("FOO"));
        let truncated = INVITE.replace("Content-Length: 4", "Content-Length: 400");
        assert!(
            matches!(parse(truncated.as_bytes()), Parsed::BadRequest(_, r) if r.contains("Content-Length"))
        );
        let no_call_id = INVITE.replace("Call-ID: 1-2@127.0.0.1\r\n", "");
        assert!(
            matches!(parse(no_call_id.as_bytes()), Parsed::BadRequest(_, r) if r.contains("Call-ID"))
        );
    }

    #[test]
    fn garbage_is_dropped() {
        for g in [
            &b"\x00\x01\x02\xff\xfe"[..],
            b"hello world",
            b"\r\n\r\n",
            b"INVITE",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        ] {
            assert!(
                matches!(parse(g), Parsed::Garbage(_)),
                "{:?}",
                String::from_utf8_lossy(g)
            );
        }
    }

    #[test]
    fn requests_parse_back_with_their_headers_in_order() {
        let bytes = request(
            "INVITE",
            "sip:reception@127.0.0.1:5080",
            &[
                (
                    "Via",
                    "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-a;rport".into(),
                ),
                (
                    "From",
                    "\"Priya Raman\" <sip:shop@127.0.0.1:5070>;tag=t1".into(),
                ),
                ("To", "<sip:reception@127.0.0.1:5080>".into()),
                ("Call-ID", "abc@127.0.0.1".into()),
                ("CSeq", "1 INVITE".into()),
                ("Record-Route", "<sip:p1;lr>, <sip:p2;lr>".into()),
            ],
            Some(("application/sdp", b"v=0\r\n")),
        )
        .unwrap();
        let m = message(std::str::from_utf8(&bytes).unwrap());
        assert_eq!(m.method(), Some("INVITE"));
        assert_eq!(
            m.start,
            StartLine::Request {
                method: "INVITE".into(),
                uri: "sip:reception@127.0.0.1:5080".into()
            }
        );
        assert_eq!(m.tag_of("From").as_deref(), Some("t1"));
        assert_eq!(m.branch().as_deref(), Some("z9hG4bK-a"));
        assert_eq!(m.header("Content-Length"), Some("5"));
        assert_eq!(m.body, b"v=0\r\n");
        assert_eq!(
            m.header_values("Record-Route"),
            ["<sip:p1;lr>", "<sip:p2;lr>"]
        );
        assert!(request("INVITE", "not a uri", &[], None).is_err());
    }

    #[test]
    fn uris_come_out_of_name_addrs() {
        assert_eq!(
            uri_of("\"Bob, Jr\" <sip:bob@h:5060;transport=udp>;tag=9"),
            "sip:bob@h:5060;transport=udp"
        );
        assert_eq!(uri_of("sip:bob@h;tag=9"), "sip:bob@h");
        assert_eq!(
            split_list("\"a, b\" <sip:x>, <sip:y,z>"),
            ["\"a, b\" <sip:x>", "<sip:y,z>"]
        );
    }

    #[test]
    fn unsupported_requirements_are_listed() {
        let m = message(&INVITE.replace("Contact:", "Require: siprec, 100rel\r\nContact:"));
        assert_eq!(m.unsupported_requirements(), vec!["100rel".to_string()]);
    }
}
