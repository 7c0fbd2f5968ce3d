"""What an IP address's place can and cannot say.

The place comes from the address, and the address is the network's: someone on their company's
network (or VPN) shows where that network leaves for the internet — often the head office or the
IT provider's city, not where they sit (the caveat of the original product's help page). It is
said wherever the reader is probably on such a network: a work address (not a consumer mailbox)."""

from __future__ import annotations

CORPORATE_CAVEAT = "may be the company's network or VPN, not where the person is"

# Consumer mailboxes: their readers are mostly on home or mobile networks.
CONSUMER_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.ru",
        "yandex.ru",
        "yandex.com",
        "seznam.cz",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
        "zoho.com",
        "fastmail.com",
        "hey.com",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "libero.it",
        "t-online.de",
        "btinternet.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "rambler.ru",
        "ukr.net",
        "wp.pl",
        "o2.pl",
    }
)


def caveat(email: str | None, *, located: bool) -> str | None:
    """The caveat for a place found from an address, for a reader with this email address."""
    if not located or not email or "@" not in email:
        return None
    return None if email.rsplit("@", 1)[1].lower() in CONSUMER_DOMAINS else CORPORATE_CAVEAT
