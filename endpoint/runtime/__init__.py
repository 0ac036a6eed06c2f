"""The runtime: the only layer that owns sockets, clocks and threads."""
