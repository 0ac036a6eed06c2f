"""The real Engine inside a benchmark's own process, peer to peer with null audio and only
errors logged: what a benchmark that feeds or floods the SIP loop directly measures against
(bench_request_cpu.py, bench_sip_loop_hold.py)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from endpoint.config import parse_config
from endpoint.runtime.engine import Engine


@contextlib.asynccontextmanager
async def quiet_engine(port: int) -> AsyncIterator[Engine]:
    """The Engine listening on 127.0.0.1:``port``, started, and closed at the end."""
    with tempfile.TemporaryDirectory() as tmp:
        text = (
            f'[sip]\nlisten = "127.0.0.1:{port}"\n[audio]\nbackend = "null"\n'
            f'[control]\nsocket = "{Path(tmp) / "ctl.sock"}"\n[log]\nlevel = "error"\n'
        )
        engine = Engine(parse_config(text))
        await engine.start()
        try:
            yield engine
        finally:
            await engine.close()
