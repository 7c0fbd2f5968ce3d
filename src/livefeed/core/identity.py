"""Signing in with Google or Microsoft, decided: which address an ID token vouches for, and the
workspace sign-in domains that let a new person in.

The token's signature, issuer, audience, expiry and nonce are checked by the OpenID client
(integrations/identity.py, with joserfc); this module only reads verified claims.
"""

from __future__ import annotations

import re

from .model import Invalid

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def verified_email(provider: str, claims: dict) -> str | None:
    """The address the provider vouches for, lower case; None when it vouches for none.

    Google: `email` with `email_verified` true (Google's OpenID Connect guide, "An ID token's payload").
    Microsoft: `email` with `xms_edov` true — the optional claim saying the address's domain is
    verified by the user's tenant (Microsoft Entra "Optional claims reference"); `email` alone may
    be any address a user typed, and `preferred_username` is documented as not for authorisation."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        return None
    flag = claims.get("email_verified") if provider == "google" else claims.get("xms_edov")
    if flag is True or flag in ("true", "True", "1", 1):
        return email.strip().lower()
    return None


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def check_signin_domains(values: list[str]) -> list[str]:
    """Normalised domains ("example.com"); Invalid naming the bad one."""
    domains: list[str] = []
    for value in values:
        domain = value.strip().lower().lstrip("@").rstrip(".")
        if not _DOMAIN.match(domain):
            raise Invalid("signin_domains", f"{value[:80]!r} is not a domain like example.com")
        if domain not in domains:
            domains.append(domain)
    if len(domains) > 50:
        raise Invalid("signin_domains", "at most 50 domains")
    return domains
