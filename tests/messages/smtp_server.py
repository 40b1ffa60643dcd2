"""A real SMTP server on loopback (aiosmtpd) that keeps what it accepts and can misbehave on purpose:
refuse chosen recipients (5xx or 4xx), hang up in the middle of a message once, or hang up on every
message after the n-th (a server that went away)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Inbox:
    """What the server accepted, and the faults it is told to make."""

    received: list[Message] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> reply ("550 ..." or "450 ...")
    hang_up_on_message: set[int] = field(default_factory=set)  # the n-th DATA (1-based), once each
    hang_up_after: int | None = None  # every DATA after this many accepted messages hangs up
    data_seen: int = 0
    connections: int = 0

    def to(self) -> list[str]:
        return [str(message["To"]) for message in self.received]

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_seen += 1
        dying = self.hang_up_after is not None and len(self.received) >= self.hang_up_after
        if self.data_seen in self.hang_up_on_message or dying:
            self.hang_up_on_message.discard(self.data_seen)
            server.transport.close()  # before the 250: the message is not taken
            return "421 closing"
        self.received.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 Message accepted for delivery"


class LoopbackSmtp:
    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackSmtp:
        self._controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._controller.stop()
