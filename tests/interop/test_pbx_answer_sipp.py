"""PBX-driven auto-answer with SIPp as the paging PBX: through Kamailio (the registrar routes
the INVITE to our registered Contact, ``line=`` token and all) the page is answered although
``auto_answer`` is off; the same page sent straight to us by a stranger on a trusted network
only rings (the scenario fails on a 200)."""

from pathlib import Path

import pytest

from tests.interop.door import Door, account, registered_door, sipp_calls
from tests.interop.peers import LOOPBACK, Kamailio

pytestmark = pytest.mark.interop

PAGED = "auto_answer = false\npbx_auto_answer = true"


def test_the_registrars_page_is_answered(tmp_path: Path, kamailio: Kamailio) -> None:
    door = registered_door(tmp_path / "door", kamailio, calls=PAGED)
    try:
        keys = ["-key", "from_user", "pbx", "-key", "answer_after", "1", "-d", "1000"]
        sipp_calls(
            tmp_path / "page", "uac_page.xml", f"{LOOPBACK}:{kamailio.port}", *keys, timeout=20
        )
    finally:
        log = door.stop()
    assert "call-answered" in log and "answered_by=pbx" in log, log


def test_a_strangers_page_only_rings(tmp_path: Path, kamailio: Kamailio) -> None:
    # The stranger may ring (its network is listed) and sends from the registrar's own
    # address (all is loopback), but without the registered line= token it proves nothing.
    door = Door(
        tmp_path / "door",
        calls=PAGED,
        sip='accept_from = ["registrar", "127.0.0.1"]',
        extra=account(f"sip:127.0.0.1:{kamailio.port}"),
    )
    try:
        keys = ["-key", "from_user", "stranger", "-d", "2500"]
        sipp_calls(
            tmp_path / "stranger",
            "uac_page_ignored.xml",
            f"{LOOPBACK}:{door.port}",
            *keys,
            timeout=20,
        )
    finally:
        log = door.stop()
    assert "call-incoming" in log and "call-answered" not in log, log
