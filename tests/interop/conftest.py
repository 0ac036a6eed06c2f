"""Fixtures starting real peers (see peers.py); each test gets its own instances and ports."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.peers import Kamailio, running


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[Kamailio]:
    with running(Kamailio(tmp_path / "kamailio")) as k:
        yield k


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The peer x scenario table, when this run ran matrix cells (``test_matrix.py``)."""
    from tests.interop.matrix import RESULTS, report_path

    if not RESULTS.cells:
        return
    from tests.interop.test_matrix import matrix_table

    table = matrix_table()
    terminalreporter.write_sep("=", "interop matrix: peer/path x scenario")
    terminalreporter.write(table)
    path = report_path()
    if path is not None:
        path.write_text(
            "# Interop matrix\n\nEach scenario runs three times in a row in one "
            "`sip-endpoint run` process per peer/path; SIP on our port is checked across each "
            "dialog (route set, CSeq, tags, Contact), audio both ways. Made by "
            "`MATRIX_REPORT=docs/interop-matrix.md .venv/bin/python -bb -m pytest "
            "tests/interop/test_matrix.py`.\n\n" + table
        )
