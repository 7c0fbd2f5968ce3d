"""Signing in as a rep does, through the pages: the form with its CSRF token, or a sign-in link."""

import re

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def sign_in(client, email="rita@seller.test", password="correct horse battery"):
    form = await client.get("/signin")
    return await client.post("/signin", data={"email": email, "password": password, "csrf": csrf_of(form.text)})


async def use_signin_link(client, path: str):
    """Open a sign-in link (the confirmation page) and press its button, as a rep does."""
    page = await client.get(path)
    if page.status_code != 200:
        return page
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    return await client.post("/signin/link", data={"token": token, "csrf": csrf_of(page.text)})
