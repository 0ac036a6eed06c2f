"""Issue 13 rule 11: safe defaults. check-config warns when the door answers everyone in
account mode (valid, but every caller the PBX routes hears the street)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.security.attacker import CLI


def check(path: Path, text: str) -> str:
    path.write_text(text)
    out = subprocess.run(
        [*CLI, "check-config", str(path)], capture_output=True, text=True, timeout=30, check=False
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


ACCOUNT = '[account]\nregistrar = "sip:192.0.2.1"\nuser = "door"\npassword = "pw"\n'


def test_open_auto_answer_in_account_mode_is_warned(tmp_path: Path) -> None:
    text = check(tmp_path / "open.toml", ACCOUNT + "[calls]\nauto_answer = true\n")
    assert 'warning: [calls] auto_answer = true with allow = ["*"]' in text
    text = check(
        tmp_path / "closed.toml",
        ACCOUNT + '[calls]\nauto_answer = true\nallow = ["concierge@192.0.2.1"]\n',
    )
    assert "warning" not in text
    text = check(
        tmp_path / "any.toml",
        '[sip]\naccept_from = ["*"]\n' + ACCOUNT + '[calls]\nallow = ["concierge"]\n',
    )
    assert 'warning: [sip] accept_from includes "*"' in text
