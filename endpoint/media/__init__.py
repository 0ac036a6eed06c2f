"""The sans-IO media core: RTP/RTCP, G.711, telephone-events, jitter buffer, call quality."""
