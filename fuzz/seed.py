#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, from the project's fixtures (and sipp's sample captures
when sip-tester is installed). Writes fuzz/corpus/TARGET/; existing inputs are kept, so
libFuzzer's finds accumulate between runs. Python's standard library only.

    python3 fuzz/seed.py
"""

import hashlib
import pathlib
import re
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
FIXTURES = ROOT / "fixtures"
SIPP_PCAPS = pathlib.Path("/usr/share/sip-tester")

# Seeds past this are cut: libFuzzer's input size follows the largest seed, and big inputs slow
# every execution. The headers and first frames are where the parsers' decisions are.
MAX_SEED = 16 * 1024

AUDIO_EXTENSIONS = ["wav", "mp3", "flac", "ogg", "m4a", "aac"]


def put(target, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    data = data[:MAX_SEED]
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def pcap_udp_payloads(path):
    """UDP payloads of an Ethernet/IPv4 pcap (enough for sipp's samples)."""
    data = path.read_bytes()
    if len(data) < 24:
        return []
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    pos, out = 24, []
    while pos + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[pos:pos + 16])
        frame = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        if len(frame) < 42 or frame[12:14] != b"\x08\x00":
            continue
        ihl = (frame[14] & 0x0F) * 4
        if frame[23] != 17:
            continue
        udp = frame[14 + ihl:]
        out.append(udp[8:])
    return out


def sipp_messages(xml_path):
    """SIP messages in a sipp scenario, placeholders filled with plausible values."""
    text = xml_path.read_text()
    values = {
        "service": "recorder", "remote_ip": "127.0.0.1", "remote_port": "5060",
        "local_ip": "127.0.0.1", "local_port": "5070", "transport": "UDP",
        "call_number": "1", "call_id": "1-1234@127.0.0.1", "cseq": "1",
        "media_ip": "127.0.0.1", "media_port": "6000", "media_ip_type": "4",
        "last_Via:": "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1",
        "last_From:": "From: <sip:a@127.0.0.1>;tag=1", "last_To:": "To: <sip:b@127.0.0.1>;tag=2",
        "last_Call-ID:": "Call-ID: 1-1234@127.0.0.1", "last_CSeq:": "CSeq: 1 INVITE",
        "pid": "1", "branch": "z9hG4bK-1", "len": "0",
    }
    out = []
    for body in re.findall(r"<!\[CDATA\[(.*?)\]\]>", text, re.S):
        msg = re.sub(r"\[([^\]]+)\]", lambda m: values.get(m.group(1), "x"), body)
        lines = [line.strip() for line in msg.strip().splitlines()]
        head, _, rest = "\r\n".join(lines).partition("\r\n\r\n")
        payload = rest.encode()
        head = re.sub(r"Content-Length: *\S*", f"Content-Length: {len(payload)}", head)
        out.append((head + "\r\n\r\n").encode() + payload)
    return out


def ct2_model():
    """A tiny CTranslate2 model.bin (format version 6) with the shapes of the real layout."""
    def s(text):
        b = text.encode() + b"\0"
        return struct.pack("<H", len(b)) + b
    out = struct.pack("<I", 6) + s("WhisperSpec") + struct.pack("<I", 3)
    variables = [
        ("encoder/conv1/weight", [2, 2], 0, struct.pack("<4f", 0.5, -0.5, 1.0, 0.0)),
        ("encoder/num_heads", [], 3, struct.pack("<i", 1)),
        ("decoder/embeddings/weight", [2, 2], 4, struct.pack("<4e", 1.0, 2.0, 3.0, 4.0)),
    ]
    out += struct.pack("<I", len(variables))
    for name, shape, dtype, data in variables:
        out += s(name) + struct.pack("<B", len(shape)) + b"".join(struct.pack("<I", d) for d in shape)
        out += struct.pack("<BI", dtype, len(data)) + data
    out += struct.pack("<I", 1) + s("decoder/projection/weight") + s("decoder/embeddings/weight")
    return out


def ggml_model():
    """A tiny whisper.cpp ggml file: header, mel filters, vocabulary, one tensor."""
    out = struct.pack("<I", 0x67676D6C)
    out += struct.pack("<11i", 4, 2, 4, 1, 1, 2, 4, 1, 1, 2, 1)
    out += struct.pack("<ii", 2, 3) + struct.pack("<6f", *[0.1] * 6)
    tokens = [b"a", b"hello", b"<|endoftext|>"]
    out += struct.pack("<i", len(tokens)) + b"".join(struct.pack("<i", len(t)) + t for t in tokens)
    name = b"encoder.positional_embedding"
    out += struct.pack("<iii", 2, len(name), 0) + struct.pack("<ii", 4, 2) + name
    out += struct.pack("<8f", *[0.0] * 8)
    return out


def main():
    for p in sorted((FIXTURES / "formats").iterdir()) + sorted((FIXTURES / "bad").iterdir()):
        if p.suffix.lstrip(".") in AUDIO_EXTENSIONS:
            ext = AUDIO_EXTENSIONS.index(p.suffix.lstrip("."))
            put("audio_decode", bytes([ext]) + p.read_bytes())
    for p in sorted((FIXTURES / "calls").glob("*.json")):
        if not p.name.endswith(".timeline.json"):
            put("sidecar_json", p.read_bytes())
    for p in sorted((FIXTURES / "transcripts").glob("*.json")):
        put("transcript_json", p.read_bytes())
    for p in sorted((ROOT / "rubrics").rglob("*.toml")):
        put("rubric_toml", p.read_bytes())
    for q in ['"cancel my account"', "refund NEAR/5 manager", "(cancel OR refund) NOT sorry",
              "manag*", "e-mail 3:15", 'NEAR/x "a', "AND ( )"]:
        put("search_query", q.encode())

    pcaps = sorted(SIPP_PCAPS.glob("*.pcap")) if SIPP_PCAPS.is_dir() else []
    pcaps += sorted((FIXTURES / "bad" / "capture").glob("*.pcap*"))
    for p in pcaps:
        put("pcap_import", p.read_bytes())
        payloads = pcap_udp_payloads(p)
        for udp in payloads[:8]:
            put("rtp_packet", udp)
        # A stream for the jitter buffer: records of (arrival delta ms, length, datagram).
        stream = bytearray([4])
        for udp in payloads[:40]:
            stream += struct.pack("<HB", 20, min(len(udp), 255)) + udp[:255]
        if payloads:
            put("jitter_track", bytes(stream))

    for xml in sorted((FIXTURES / "sip").glob("*.xml")):
        for msg in sipp_messages(xml):
            put("sip_message", msg)
            _, _, body = msg.partition(b"\r\n\r\n")
            if b"v=0" in body:
                sdp = body[body.index(b"v=0"):]
                put("sdp_offer", sdp.split(b"\r\n--")[0])
            if b"<recording" in body:
                xml_start = body.index(b"<?xml") if b"<?xml" in body else body.index(b"<recording")
                xml_end = body.find(b"</recording>")
                put("siprec_metadata", b"\0" + body[xml_start:xml_end + len(b"</recording>")])
                put("siprec_metadata", b"\1" + body)

    put("ct2_model", ct2_model())
    put("ggml_model", ggml_model())
    for suffix in [b"", b"?page=2&sort=score&dir=asc", b"?agent=Gary&from=2024-03-01&to=2024-03-31",
                   b"?verdict=agree&min_score=10&max_score=90", b"?next=/calls"]:
        for route in range(12):
            put("web_request", bytes([route]) + suffix + b"\n")
    put("web_request", bytes([3]) + b"\naction=listened&reviewer=Ann&note=ok")
    put("web_request", bytes([3]) + b"\naction=override&reviewer=Ann&criterion=greeting&outcome=fail")
    put("web_request", bytes([8]) + b"\ntoken=wrong&next=%2Fcalls")
    for target in sorted(p.name for p in CORPUS.iterdir()):
        print(f"{target}: {len(list((CORPUS / target).iterdir()))} inputs")


if __name__ == "__main__":
    main()
