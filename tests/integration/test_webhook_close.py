"""A webhook worker always stops when the service stops.

Python 3.11's ``asyncio.wait_for`` returns the inner result instead of raising when a cancel
meets an inner call that has just finished (bpo-42130): a POST that completed in the same
loop turn as the service's stop swallowed the cancel, the worker went back to its queue, and
``close`` waited on it for ever (a door process that did not exit on SIGTERM, seen in CI).
Here the stop is tried at every loop turn around one delivery, so one of them meets it."""

from __future__ import annotations

import asyncio
import random

from endpoint.integration.webhooks import Target, Webhook


async def test_close_returns_whichever_loop_turn_of_a_delivery_it_meets() -> None:
    for turns in range(12):
        hook = Webhook(Target.parse("http://127.0.0.1:9/hook"), random.Random(turns))
        posted: list[bytes] = []

        async def post(body: bytes, posted: list[bytes] = posted) -> int:
            posted.append(body)  # no await: the POST is done within its first step
            return 200

        hook._post = post  # type: ignore[method-assign]
        hook.start()
        hook.offer({"event": "door-opened"})
        for _ in range(turns):
            await asyncio.sleep(0)
        worker = hook._task
        assert worker is not None
        closing = asyncio.ensure_future(hook.close())
        done, _ = await asyncio.wait({closing}, timeout=5)  # a hang, not a timing: 5 s is ages
        assert done, f"close() hung when the stop came {turns} loop turns after the offer"
        assert worker.done(), f"the worker outlived close() ({turns} loop turns)"
