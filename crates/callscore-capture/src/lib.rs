//! Call capture: SIP/SIPREC recording endpoint, RTP with G.711 and DTMF, jitter buffer, pcap import.
