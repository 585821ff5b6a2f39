"""The customer's status e-mail, through an outbox in the shop database (O4).

The status and its history row are committed with an outbox row in one transaction; the mail
is sent after the commit. Only when the SMTP server accepted it is the history row marked as
notified, by the shop kind (``mark_notified``: Phoenix sets ``customer_notified = 1``). A
mail that could not be sent stays in the outbox and is tried again after every batch and while
the consumer is idle, up to MAX_ATTEMPTS, then marked 'failed' and reported in the log. Rows
are claimed with SKIP LOCKED, so two consumers of one shop never send the same mail twice.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shopbridge.config import MailConfig
from shopbridge.db import utc_now
from shopbridge.owntables import OwnTable, ensure

log = logging.getLogger(__name__)

OUTBOX_TABLE = "shopbridge_mail_outbox"
MAX_ATTEMPTS = 10
SMTP_TIMEOUT_S = 10

DDL = f"""
CREATE TABLE IF NOT EXISTS {OUTBOX_TABLE} (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  history_id INT NOT NULL,
  orders_id INT NOT NULL,
  recipient VARCHAR(255) NOT NULL,
  subject VARCHAR(255) NOT NULL,
  body TEXT NOT NULL,
  state VARCHAR(10) CHARACTER SET ascii NOT NULL DEFAULT 'pending',
  attempts INT NOT NULL DEFAULT 0,
  last_error VARCHAR(500) NULL,
  created_at DATETIME(6) NOT NULL,
  sent_at DATETIME(6) NULL,
  KEY idx_shopbridge_outbox_state (state, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
TABLE = OwnTable(OUTBOX_TABLE, DDL)


def enqueue(conn: Connection, *, history_id: int, orders_id: int, recipient: str,
            subject: str, body: str) -> None:
    conn.exec_driver_sql(
        f"INSERT INTO {OUTBOX_TABLE} (history_id, orders_id, recipient, subject, body, "
        f"created_at) VALUES (%s, %s, %s, %s, %s, %s)",
        (history_id, orders_id, recipient, subject[:255], body, utc_now()))


# Marks the shop's status history row (by its id) as notified, in the caller's transaction.
MarkNotified = Callable[[Connection, int], None]


class Mailer:
    """Sends what the outbox holds.

    Args:
        mark_notified: the shop kind's update of its status history row once a mail is sent.
        send: injectable for tests of the bookkeeping.
    """

    def __init__(self, *, config: MailConfig, engine: sa.Engine, mark_notified: MarkNotified,
                 send: Callable[[EmailMessage], None] | None = None) -> None:
        self.config = config
        self.engine = engine
        self.mark_notified = mark_notified
        self._send = send or self._smtp_send

    def ensure_table(self, conn: Connection) -> None:
        ensure(conn, TABLE)

    def flush(self, limit: int = 50) -> tuple[int, int]:
        """Try every pending mail once; returns (sent, failed this time)."""
        sent = failed = 0
        for _ in range(limit):
            with self.engine.begin() as conn:
                row = conn.exec_driver_sql(
                    f"SELECT id, history_id, recipient, subject, body, attempts "
                    f"FROM {OUTBOX_TABLE} WHERE state = 'pending' ORDER BY id LIMIT 1 "
                    f"FOR UPDATE SKIP LOCKED").first()
                if row is None:
                    break
                mail_id, history_id, recipient, subject, body, attempts = row
                try:
                    self._send(self._message(recipient, subject, body))
                except (OSError, smtplib.SMTPException) as err:
                    failed += 1
                    attempts += 1
                    state = "failed" if attempts >= MAX_ATTEMPTS else "pending"
                    conn.exec_driver_sql(
                        f"UPDATE {OUTBOX_TABLE} SET attempts = %s, state = %s, last_error = %s "
                        f"WHERE id = %s", (attempts, state, f"{type(err).__name__}: {err}"[:500],
                                           mail_id))
                    level = logging.ERROR if state == "failed" else logging.WARNING
                    log.log(level, "status e-mail %s to the customer was not sent (attempt %d%s):"
                            " %s: %s", mail_id, attempts,
                            ", giving up" if state == "failed" else ", will retry",
                            type(err).__name__, err)
                    if state == "pending":
                        break  # the server is likely down: the rest waits for the next flush
                    continue
                conn.exec_driver_sql(
                    f"UPDATE {OUTBOX_TABLE} SET state = 'sent', sent_at = %s, attempts = %s "
                    f"WHERE id = %s", (utc_now(), attempts + 1, mail_id))
                self.mark_notified(conn, history_id)
                sent += 1
        return sent, failed

    def _message(self, recipient: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.config.sender
        message["To"] = recipient
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=self.config.sender.rsplit("@", 1)[-1])
        message.set_content(body)
        return message

    def _smtp_send(self, message: EmailMessage) -> None:
        config = self.config
        if config.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port,
                                                    timeout=SMTP_TIMEOUT_S,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=SMTP_TIMEOUT_S)
        with client:
            if config.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if config.username:
                client.login(config.username, config.password or "")
            client.send_message(message)
