"""What a reloaded configuration changes and how (pure): live, re-register, or needs restart."""

from endpoint.config import parse_config
from endpoint.config.reload import ChangeKind, effective_config, integration_changed, plan_reload

BASE = """
[sip]
listen = "127.0.0.1:5070"
[account]
registrar = "sip:pbx.example.com"
user = "door"
password = "pw1"
[calls]
auto_answer = true
[media]
ptime = 20
[log]
level = "info"
"""


def test_no_change_no_plan() -> None:
    assert plan_reload(parse_config(BASE), parse_config(BASE)) == []


def test_each_kind_of_change() -> None:
    new = (
        BASE.replace('listen = "127.0.0.1:5070"', 'listen = "127.0.0.1:5080"')
        .replace('password = "pw1"', 'password = "pw2"')
        .replace("auto_answer = true", 'auto_answer = false\nallow = ["concierge@*"]')
        .replace("ptime = 20", "ptime = 30\njitter_max_ms = 300")
        .replace('level = "info"', 'level = "debug"')
    )
    changes = plan_reload(parse_config(BASE), parse_config(new))
    assert [(str(c), c.kind) for c in changes] == [
        ("[sip] listen", ChangeKind.RESTART),
        ("[account] password", ChangeKind.REREGISTER),
        ("[calls] auto_answer", ChangeKind.LIVE),
        ("[calls] allow", ChangeKind.LIVE),
        ("[media] ptime", ChangeKind.RESTART),
        ("[media] jitter_max_ms", ChangeKind.LIVE),
        ("[log] level", ChangeKind.LIVE),
    ]
    assert "pw2" not in " ".join(map(str, changes))  # a change names the key, never the value


def test_the_running_config_keeps_what_needs_a_restart() -> None:
    old = parse_config(BASE)
    new = parse_config(
        BASE.replace('listen = "127.0.0.1:5070"', 'listen = "127.0.0.1:5080"')
        .replace("ptime = 20", "ptime = 30\njitter_max_ms = 300")
        .replace("auto_answer = true", "auto_answer = false")
    )
    running = effective_config(old, new, plan_reload(old, new))
    assert str(running.sip.listen) == "127.0.0.1:5070"  # still bound there
    assert running.media.ptime == 20 and running.media.jitter_max_ms == 300
    assert running.calls.auto_answer is False


def test_an_account_appearing_is_a_re_registration() -> None:
    listen = '[sip]\nlisten = "127.0.0.1:5070"\n'
    account = '[account]\nregistrar = "sip:pbx.example.com"\nuser = "door"\npassword = "pw"\n'
    (change,) = plan_reload(parse_config(listen), parse_config(listen + account))
    assert (str(change), change.kind) == ("[account]", ChangeKind.REREGISTER)


def test_sections_bound_at_start_need_a_restart() -> None:
    old = parse_config(BASE)
    new = parse_config(BASE + '[hardware]\nboard = "simulated"\n[control]\nsocket = "/tmp/c"\n')
    changes = plan_reload(old, new)
    assert {str(c) for c in changes} >= {"[hardware] board", "[control] socket"}
    assert all(c.kind is ChangeKind.RESTART for c in changes)
    running = effective_config(old, new, changes)
    assert running.hardware.board == old.hardware.board


def test_integration_sections_restart_the_integration() -> None:
    old = parse_config(BASE)
    new = parse_config(BASE + "[history]\nretention_days = 7\nmax_mb = 5\n")
    changes = plan_reload(old, new)
    assert {(str(c), c.kind) for c in changes} == {
        ("[history] retention_days", ChangeKind.INTEGRATION),
        ("[history] max_mb", ChangeKind.INTEGRATION),
    }
    assert integration_changed(old, effective_config(old, new, changes))
    assert not integration_changed(old, old)


def test_nat_is_applied_without_restart() -> None:
    """``[nat]`` is re-run (STUN for the SIP socket, new settings for the next calls), not
    left for a restart: the running configuration takes the new values."""
    new = BASE + '[nat]\nstun_server = "stun.example.net:3478"\nkeepalive_s = 5\n'
    old_config, new_config = parse_config(BASE), parse_config(new)
    changes = plan_reload(old_config, new_config)
    assert [(str(c), c.kind) for c in changes] == [
        ("[nat] stun_server", ChangeKind.NAT),
        ("[nat] keepalive_s", ChangeKind.NAT),
    ]
    assert effective_config(old_config, new_config, changes).nat == new_config.nat
