"""What a mail server's refusal of a sign-in means: a wrong password, or a provider that no longer
takes passwords at all (then a new password cannot help, and the rep is told what will).

The texts are the providers' own (their documentation and what their servers answer):
- Microsoft 365: SMTP "535 5.7.139 Authentication unsuccessful, basic authentication is disabled"
  and "…SmtpClientAuthentication is disabled for the Tenant" (learn.microsoft.com, "Enable or
  disable SMTP AUTH in Exchange Online"; "Deprecation of Basic authentication in Exchange Online").
- Google: SMTP "534 5.7.9 Application-specific password required", IMAP "[ALERT] Application-specific
  password required" (support.google.com/mail/answer/7126229 and /accounts/answer/185833), and
  "5.7.14 Please log in via your web browser" / "[WEBALERT]" (a sign-in Google wants confirmed).
"""

from __future__ import annotations

MICROSOFT_NO_PASSWORDS = ("5.7.139", "basic authentication is disabled", "smtpclientauthentication is disabled")
GOOGLE_APP_PASSWORD = ("5.7.9", "application-specific password required")
GOOGLE_WEB_LOGIN = ("5.7.14", "webalert", "log in via your web browser", "web login required")


def refusal(answer: str, *, protocol: str) -> str:
    """The rep-facing reason for a refused sign-in, from the server's answer text."""
    text = (answer or "").lower()
    if any(mark in text for mark in MICROSOFT_NO_PASSWORDS):
        return (
            "Microsoft 365 no longer accepts passwords for this mailbox (basic authentication is off): "
            "connect it with Microsoft instead (Settings → Connect Microsoft 365)"
        )
    if any(mark in text for mark in GOOGLE_APP_PASSWORD):
        return (
            "Google does not take your account password here: connect with Google instead (Settings → Connect Google), "
            "or use an app password if your admin allows them"
        )
    if any(mark in text for mark in GOOGLE_WEB_LOGIN):
        return "Google wants this sign-in confirmed in a browser first (it sees it as unusual): sign in at mail.google.com, then try again"
    return f"the server refused the username or password ({protocol})"
