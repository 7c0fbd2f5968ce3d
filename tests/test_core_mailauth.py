"""A refused sign-in says what it means, from the providers' real answers (core/mailauth.py)."""

import pytest

from livefeed.core.mailauth import refusal


@pytest.mark.parametrize(
    "answer, says",
    [
        (
            "535 5.7.139 Authentication unsuccessful, basic authentication is disabled. [AM0PR02CA0001.eurprd02.prod.outlook.com]",
            "Microsoft 365 no longer accepts passwords",
        ),
        (
            "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled",
            "Microsoft 365 no longer accepts passwords",
        ),
        (
            "534-5.7.9 Application-specific password required. For more information, go to\n534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor",
            "Google does not take your account password",
        ),
        (
            "[ALERT] Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)",
            "Google does not take your account password",
        ),
        (
            "534-5.7.14 <https://accounts.google.com/signin/continue?...> Please log in via your web browser and then try again.",
            "confirmed in a browser",
        ),
        (
            "535-5.7.8 Username and Password not accepted. For more information, go to\n535 5.7.8  https://support.google.com/mail/?p=BadCredentials",
            "refused the username or password",
        ),
        ("NO [AUTHENTICATIONFAILED] Authentication failed.", "refused the username or password"),
    ],
)
def test_refusals_name_their_cause(answer, says):
    assert says in refusal(answer, protocol="SMTP 535")
