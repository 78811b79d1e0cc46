"""The Redis channel layer, without losing a frame when a page closes.

Every consumer of one process reads from a single Redis list, and the
consumer holding the layer's receive lock pops the next message for all of
them (``RedisChannelLayer.receive``). Channels cancels a consumer's receive
when its socket closes. If that consumer was waiting in BZPOPMIN when Redis
popped a message, redis-py drops the connection together with the reply, so
the message is gone for every other page of its group. channels_redis keeps a
backup copy of a popped message only once the reply has been read.
"""

import asyncio

from channels_redis.core import RedisChannelLayer


class ShieldedRedisChannelLayer(RedisChannelLayer):
    """Channels' Redis layer whose pops outlive a cancelled receiver.

    The pop runs as a task of its own. A receiver that is cancelled leaves it
    running, and the next receiver to take the receive lock awaits the same
    task instead of starting another pop, so the message is delivered and the
    order of messages is kept.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pending_pop: asyncio.Future | None = None

    async def receive_single(self, channel):
        if "!" not in channel:
            return await super().receive_single(channel)
        pop = self._pending_pop
        # A pop started on another event loop (async_to_sync outside daphne
        # runs one per call) cannot be awaited here, so a new pop starts.
        if pop is None or pop.get_loop() is not asyncio.get_running_loop():
            pop = asyncio.ensure_future(super().receive_single(channel))
            self._pending_pop = pop
        try:
            result = await asyncio.shield(pop)
        except asyncio.CancelledError:
            # The receiver was cancelled, not the pop. The pop stays pending,
            # with its result if it has one, for the next lock holder.
            if pop.cancelled():
                self._forget(pop)
            raise
        except Exception:
            self._forget(pop)
            raise
        self._forget(pop)
        return result

    def _forget(self, pop) -> None:
        if self._pending_pop is pop:
            self._pending_pop = None

    async def flush(self):
        await self._cancel_pending_pop()
        await super().flush()

    async def close_pools(self):
        await self._cancel_pending_pop()
        await super().close_pools()

    async def _cancel_pending_pop(self) -> None:
        pop, self._pending_pop = self._pending_pop, None
        if pop is not None and pop.get_loop() is asyncio.get_running_loop():
            pop.cancel()
            await asyncio.gather(pop, return_exceptions=True)
