"""systemd integration: the watchdog, STATUS lines, reload on SIGHUP, install and doctor.

The engine (``endpoint.runtime.engine``) owns sockets and the UA; this package holds what makes
it a well-behaved service on a box nobody logs into: honest watchdog pings, a status line that
``systemctl status`` shows, a reload that never leaves the door without a working configuration,
an installer, and a self-check an installer can read over the phone.
"""
