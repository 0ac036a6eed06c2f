"""The user agent: registration, calls and policy as sans-IO state machines.

Events in (SIP, buttons, control commands, timers, DTMF), actions out.
"""
