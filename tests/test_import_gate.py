"""asyncio without ``ssl`` (issue 19): a fresh interpreter per case (asyncio binds ssl once)."""

from __future__ import annotations

import json

import pytest

from tests.fresh import run_python

#: Imports asyncio through the gate, echoes over a real TCP connection on loopback, then
#: imports ssl itself; prints what was loaded at each point.
SCRIPT = """
import json, sys
from endpoint.import_gate import asyncio_has_ssl, import_asyncio
import_asyncio(sys.argv[1] == "tls")
import asyncio
after_import = "ssl" in sys.modules
async def echo():
    async def serve(reader, writer):
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"door\\n")
    line = await reader.readline()
    writer.close()
    server.close()
    return line.decode()
line = asyncio.run(echo())
has_ssl = asyncio_has_ssl()
import ssl
print(json.dumps([after_import, line, has_ssl, bool(ssl.OPENSSL_VERSION)]))
"""


def run(mode: str) -> list[object]:
    result: list[object] = json.loads(run_python(SCRIPT, mode))
    return result


@pytest.mark.parametrize(("mode", "with_ssl"), [("plain", False), ("tls", True)])
def test_asyncio_without_ssl_serves_tcp_and_ssl_loads_later(mode: str, with_ssl: bool) -> None:
    after_import, line, has_ssl, later = run(mode)
    assert after_import is with_ssl and has_ssl is with_ssl
    assert line == "door\n"  # plain TCP works either way
    assert later is True  # the finder is gone: a later ``import ssl`` works
