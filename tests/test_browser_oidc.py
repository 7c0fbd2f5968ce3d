"""In Chromium: sign in with Google, connect Microsoft 365 from Settings, send — the copy leaves
through Graph as the rep — and the recipient's reply, read through Graph, appears in the window. The providers are the local stand-ins (tests/oidc_provider.py,
tests/mail_apis.py), reached by real redirects, so the flow cookie crosses them as in a browser."""

from __future__ import annotations

from playwright.async_api import expect


async def test_sign_in_with_google_connect_microsoft_and_send_as_the_rep(browser, setup, rep):  # noqa: F811
    server, google, microsoft, _, graph = setup
    google.knobs.claims = {"email": rep.email, "email_verified": True, "name": "Rita"}
    microsoft.knobs.claims = {"email": "rita@seller-corp.test", "xms_edov": True}
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(server.url + "/signin")
    await page.get_by_role("link", name="Sign in with Google").click()
    await page.wait_for_url("**/app")
    await page.goto(server.url + "/app/settings")
    card = page.locator("#mail-connection")
    await card.get_by_role("link", name="Connect Microsoft 365").click()
    await page.wait_for_url("**/app/settings?connected=microsoft*")
    await expect(card.locator("[data-state]")).to_contain_text("Connected: rita@seller-corp.test (Microsoft 365)")
    await expect(card.get_by_role("link", name="Connect Google")).to_be_hidden()
    answer = await page.evaluate("""async () => (await fetch('/api/v1/emails', {method: 'POST', headers: {'content-type': 'application/json'},
        body: JSON.stringify({to: ['paul@prospect.test'], subject: 'From the browser', text: 'hello'})})).status""")
    assert answer == 201 and [m["Subject"] for _, m in graph.sent] == ["From the browser"]
    message_id = graph.sent[0][1]["Message-ID"]
    await server.runtime.services.held.wait()
    poller = server.runtime.services.poller
    await poller.poll_all()  # the delta's place
    graph.deliver(
        (
            f"From: Paul <paul@prospect.test>\r\nTo: rita@seller-corp.test\r\nSubject: Re: From the browser\r\n"
            f"Message-ID: <paul-1@prospect.test>\r\nIn-Reply-To: {message_id}\r\n\r\nLet's talk on Monday.\r\n"
        ).encode()
    )
    window = await context.new_page()
    await window.goto(server.url + "/live")
    await poller.poll_all()
    reply = window.locator("#feed .row[data-kind=reply]")
    await expect(reply).to_contain_text("Let's talk on Monday")
    await card.get_by_role("button", name="Disconnect").click()
    await expect(card.locator(".result")).to_contain_text("Microsoft offers no way to revoke")
    await context.close()
