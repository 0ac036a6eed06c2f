"""Building integration (issue 18): call and door history, the HTTP API with its page and
webhooks, MQTT with Home Assistant discovery. Each reads the engine's event stream (the same
dicts ``ctl events`` prints) and acts through the engine's command table, like the control socket.
"""
