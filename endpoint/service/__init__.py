"""The service's commands around the running process: install, doctor and its probes.

The running process's own systemd side (notify, watchdog, STATUS, reload on SIGHUP) lives in
``endpoint.runtime`` beside the engine that drives it, and the reload planner in
``endpoint.config.reload``: the runtime imports nothing from here (imports point inward).
"""
