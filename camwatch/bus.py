"""The one interface between the core and its front ends.

Producers (camera supervisors, the rule engine) publish immutable states and
events; consumers (TUI, CLI, notifiers, store, metrics) subscribe. Every
subscription has a bounded queue: a slow consumer loses its oldest messages
(and is told how many) instead of growing memory or slowing cameras.
A remote bus (Unix socket to a daemon) implements the same `Bus` protocol.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from .state import CameraState

Message = object  # CameraState or any frozen event dataclass


class Bus(Protocol):
    def publish(self, message: Message) -> None: ...
    def subscribe(self, maxsize: int = 1024) -> Subscription: ...
    def states(self) -> dict[str, CameraState]: ...


@dataclass
class Subscription:
    """A bounded, drop-oldest mailbox. Iterate it with `async for`."""

    maxsize: int
    dropped: int = 0

    def __post_init__(self) -> None:
        self._items: deque[Message] = deque()
        self._ready = asyncio.Event()
        self._closed = False

    def put(self, message: Message) -> None:
        if self._closed:
            return
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.dropped += 1
        self._items.append(message)
        self._ready.set()

    def get_nowait(self) -> list[Message]:
        """Everything queued so far (possibly nothing), oldest first."""
        items = list(self._items)
        self._items.clear()
        self._ready.clear()
        return items

    async def get(self) -> Message:
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if not self._items:
            self._ready.clear()
        return item

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    def __aiter__(self) -> AsyncIterator[Message]:
        return self

    async def __anext__(self) -> Message:
        return await self.get()


class LocalBus:
    """In-process bus: synchronous fan-out, latest state per camera kept."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._states: dict[str, CameraState] = {}

    def publish(self, message: Message) -> None:
        if isinstance(message, CameraState):
            self._states[message.name] = message
        for sub in self._subs:
            sub.put(message)

    def subscribe(self, maxsize: int = 1024) -> Subscription:
        sub = Subscription(maxsize)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.close()
        if sub in self._subs:
            self._subs.remove(sub)

    def states(self) -> dict[str, CameraState]:
        return dict(self._states)

    def close(self) -> None:
        for sub in self._subs:
            sub.close()
        self._subs.clear()
