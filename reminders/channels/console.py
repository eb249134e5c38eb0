"""Development backends: print or append each message instead of sending it."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from django.conf import settings

from reminders.channels import BaseChannel, OutgoingMessage, SendResult

_lock = threading.Lock()


class ConsoleChannel(BaseChannel):
    stream = None

    def send(self, message: OutgoingMessage) -> SendResult:
        stream = self.stream or sys.stdout
        head = f"[{message.channel}] to {', '.join(message.to)}"
        if message.subject or message.title:
            head += f" | {message.subject or message.title}"
        with _lock:
            stream.write(f"{head}\n{message.body}\n{'-' * 40}\n")
            stream.flush()
        return SendResult(provider_message_id=f"console-{message.idempotency_key}")


class FileChannel(BaseChannel):
    """One JSON line per message in ``REMINDERS_FILE_PATH``: handy to watch with ``tail -f``."""

    def send(self, message: OutgoingMessage) -> SendResult:
        path = Path(settings.REMINDERS_FILE_PATH)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "channel": message.channel,
            "to": list(message.to),
            "subject": message.subject or message.title,
            "body": message.body,
            "key": message.idempotency_key,
        }
        with _lock, path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        return SendResult(provider_message_id=f"file-{message.idempotency_key}")


class NullChannel(BaseChannel):
    """Sends nothing; for measuring the pipeline's own throughput."""

    def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult(provider_message_id=f"null-{message.idempotency_key}")


class LocmemChannel(BaseChannel):
    """Keeps messages in ``LocmemChannel.outbox`` (like Django's locmem e-mail backend), for tests."""

    outbox: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> SendResult:
        with _lock:
            type(self).outbox.append(message)
        return SendResult(provider_message_id=f"locmem-{len(type(self).outbox)}")
