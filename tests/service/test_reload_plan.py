"""What a reloaded configuration changes and how (pure): live, re-register, or needs restart."""

from pathlib import Path

from endpoint.config import needs_tls, parse_config
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


def test_what_newly_needs_tls_waits_for_a_restart_in_a_process_without_it(tmp_path: Path) -> None:
    """Issue 19: a process started without TLS has an asyncio without ssl; an https webhook or
    an mqtts broker would fail at its first connection, so they wait for the restart."""
    (tmp_path / "token").write_text("t" * 32)
    http = '[http]\ntoken_file = "token"\nwebhooks = ["{}://10.0.0.5/hook"]\n'
    old = parse_config(BASE + http.format("http"), base=tmp_path)
    new = parse_config(
        BASE.replace("auto_answer = true", "auto_answer = false")
        + http.format("https")
        + '[mqtt]\nbroker = "mqtts://10.0.0.6:8883"\n',
        base=tmp_path,
    )
    assert not needs_tls(old) and needs_tls(new)
    kinds = {str(c): c.kind for c in plan_reload(old, new, tls_ready=False)}
    assert kinds == {
        "[calls] auto_answer": ChangeKind.LIVE,
        "[http] webhooks": ChangeKind.RESTART,
        "[mqtt] broker": ChangeKind.RESTART,
    }
    running = effective_config(old, new, plan_reload(old, new, tls_ready=False))
    assert not needs_tls(running) and running.calls.auto_answer is False
    # A process that has TLS applies them as any integration change.
    kinds = {str(c): c.kind for c in plan_reload(old, new, tls_ready=True)}
    assert kinds["[http] webhooks"] is kinds["[mqtt] broker"] is ChangeKind.INTEGRATION
