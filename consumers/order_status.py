"""What every shop kind's order.status_changed writer shares (O4): the link entity, what a
status event writes (its content hash), the history comment with carrier and tracking code,
and the customer's status e-mail built from the shop's mail templates.

The kinds write the status their own way (osCommerce: consumers/oscommerce/statuses.py,
VirtueMart: consumers/virtuemart/statuses.py) and hand the mail to consumers/mailer.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from shopbridge.config import MailConfig, ShopConfig

from .plan import content_hash

ENTITY = "order_status"          # link entity type, keyed '<shop>:<shop order id>'


def status_content(payload: Mapping[str, Any]) -> str:
    """The hash of what a status event writes: the same status, comment and tracking code
    again changes nothing (``Link.content_hash``)."""
    return content_hash([payload["status_id"], payload.get("comment"),
                         payload.get("carrier"), payload.get("tracking_code")])


def tracking_url(shop: ShopConfig, carrier: str | None, code: str | None) -> str | None:
    """The carrier's tracking link for ``code`` (``[mail] tracking_urls``), if configured."""
    if not code or shop.mail is None or not carrier:
        return None
    template = shop.mail.tracking_urls.get(carrier)
    return template.format(code=quote(code)) if template else None


def history_comment(payload: Mapping[str, Any], url: str | None) -> str | None:
    """The ERP's comment, then the carrier and tracking code, then the tracking link."""
    lines = [payload.get("comment") or ""]
    if payload.get("tracking_code"):
        lines.append(f"{payload.get('carrier') or 'Sendung'}: {payload['tracking_code']}")
    if url:
        lines.append(url)
    text = "\n".join(line for line in lines if line)
    return text or None


def status_mail(mail: MailConfig, language: str | None, *, payload: Mapping[str, Any],
                order: object, status: str, name: str, url: str | None,
                shop: str) -> tuple[str, str]:
    """(subject, body) of the customer's status e-mail from the templates of ``language``
    (else the configured ``[mail] language``, else the first template).

    Args:
        order: what the customer knows the order by (Phoenix: its id, VirtueMart: its
            order number).
        status: the status name in that language.
    """
    templates = mail.templates
    subject_t, body_t = (templates.get(language or "") or templates.get(mail.language)
                         or next(iter(templates.values())))
    tracking = ""
    if payload.get("tracking_code"):
        tracking = f"\n{payload.get('carrier') or ''} {payload['tracking_code']}".rstrip()
        tracking += f"\n{url}\n" if url else "\n"
    fields = {"order_id": order, "status": status, "name": name,
              "comment": f"\n{payload['comment']}\n" if payload.get("comment") else "",
              "tracking": tracking, "shop": shop}
    return subject_t.format(**fields), body_t.format(**fields)
