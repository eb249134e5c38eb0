"""E-mail through Django's mail framework (``EMAIL_BACKEND``: SMTP in production, console under ``make run``)."""

from __future__ import annotations

import hashlib
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from reminders.channels import BaseChannel, OutgoingMessage, PermanentSendError, SendResult, TransientSendError


class DjangoEmailChannel(BaseChannel):
    def send(self, message: OutgoingMessage) -> SendResult:
        # A Message-ID derived from the idempotency key: a retried e-mail carries the same
        # id, which lets mail servers and clients recognise it as the same message.
        digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]
        message_id = f"<reminder.{digest}@{settings.REMINDERS_EMAIL_DOMAIN}>"
        email = EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=settings.REMINDERS_EMAIL_FROM,
            to=list(message.to),
            headers={"Message-ID": message_id, "Auto-Submitted": "auto-generated"},
            connection=get_connection(fail_silently=False, timeout=settings.REMINDERS_EMAIL_TIMEOUT),
        )
        try:
            email.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as error:
            raise PermanentSendError(f"recipient refused: {error.recipients}") from error
        except smtplib.SMTPResponseException as error:
            # 4xx is "try later" in SMTP, 5xx is final.
            if 400 <= error.smtp_code < 500:
                raise TransientSendError(f"SMTP {error.smtp_code}: {error.smtp_error!r}") from error
            raise PermanentSendError(f"SMTP {error.smtp_code}: {error.smtp_error!r}") from error
        except (TimeoutError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as error:
            raise TransientSendError(f"SMTP connection: {error}") from error
        return SendResult(provider_message_id=message_id)
