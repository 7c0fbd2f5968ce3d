"""The settings page in a real Chromium: the mailbox test reports the server's own words, saving
starts the watcher; website origins and snippet; a webhook secret shown once; Marketo connected,
tested and synced against the local stand-in."""

from __future__ import annotations

from playwright.async_api import expect

from .support.browser import open_signin_link, signin_url
from .support.mail import PASSWORD
from .vendors import CLIENT_ID, CLIENT_SECRET


async def test_settings_connect_mailbox_website_webhook_and_marketo(browser, server, rep, clock, dovecot, vendors):  # noqa: F811
    # a phone's width, in a browser set to New York while the rep's own zone is London
    context = await browser.new_context(viewport={"width": 360, "height": 800}, timezone_id="America/New_York", locale="en-US")
    page = await context.new_page()
    await open_signin_link(page, signin_url(server.runtime.signer, server.url, user_id=rep.id, now=clock()))
    await page.goto(server.url + "/app/settings")

    mailbox = page.locator("#mailbox")
    await mailbox.locator("[name=host]").fill(dovecot.host)
    await mailbox.locator("[name=port]").fill(str(dovecot.port))
    await mailbox.locator("[name=security]").select_option("plain")
    await mailbox.locator("[name=username]").fill(rep.email)
    await mailbox.locator("[name=password]").fill("wrong-password")
    await mailbox.locator("[data-action=test]").click()
    await expect(mailbox.locator(".result")).to_contain_text("password: the server refused the username or password")
    await mailbox.locator("[name=password]").fill(PASSWORD)
    await mailbox.locator("[data-action=test]").click()
    await expect(mailbox.locator(".result")).to_contain_text("Signed in to 127.0.0.1; folder INBOX opened (IDLE")
    await mailbox.locator("[type=submit]").click()
    await expect(mailbox.locator("[data-state]")).to_contain_text(f"Connected: {rep.email} on 127.0.0.1")

    website = page.locator("#website")
    await website.locator("[name=site_origins]").fill("https://www.example.com\nwww.example.org")
    await website.locator("[type=submit]").click()
    await expect(website.locator(".result")).to_contain_text("site_origins: 'www.example.org' is not an origin")
    await website.locator("[name=site_origins]").fill("https://www.example.com")
    await website.locator("[name=anonymize_ips]").check()
    await website.locator("[type=submit]").click()
    await expect(website.locator(".result")).to_have_text("Saved.")
    assert "/w.js" in await page.locator("[data-snippet]").input_value()

    ranking = page.locator("#target-ranking")
    await ranking.locator("[name=tier_method]").select_option("fixed")
    await ranking.locator("[name=star_thresholds]").fill("50,25,75")
    await ranking.locator("[type=submit]").click()
    await expect(ranking.locator(".result")).to_contain_text("star_thresholds")
    await ranking.locator("[name=star_thresholds]").fill("25,50,75")
    await ranking.locator("[type=submit]").click()
    await expect(ranking.locator(".result")).to_have_text("Saved: the Target list uses it now.")

    never = page.locator("#never-track")
    await never.locator("[name=do_not_track]").fill("legal@prospect.test\n@privacy.example")
    await never.locator("[type=submit]").click()
    await expect(never.locator(".result")).to_have_text("Saved.")

    tracking = page.locator("#tracking-host")
    await expect(tracking.locator("[data-tracking-state]")).to_have_text(f"Links go to {server.url} (this server's address).")
    await tracking.locator("[name=tracking_url]").fill("https://t.example.com/path")
    await tracking.locator("[data-action=test]").click()
    await expect(tracking.locator(".result")).to_contain_text("tracking_url: 'https://t.example.com/path' is not a base URL")
    ours = server.url.replace("127.0.0.1", "localhost")
    await tracking.locator("[name=tracking_url]").fill(ours)
    await tracking.locator("[data-action=test]").click()
    await expect(tracking.locator(".result")).to_have_text(f"{ours} reaches this server: tracking links can use it")
    await tracking.locator("[type=submit]").click()
    await expect(tracking.locator("[data-tracking-state]")).to_have_text(f"Links go to {ours} (your hostname).")

    hook = page.locator("#marketo-hook")
    await hook.locator("[data-action=hook-secret]").click()
    await expect(hook.locator(".result")).to_contain_text("New secret (shown once, copy it now): lfwh_")

    marketo = page.locator("#marketo")
    await marketo.locator("[name=base_url]").fill(vendors.url)
    await marketo.locator("[name=client_id]").fill(CLIENT_ID)
    await marketo.locator("[name=client_secret]").fill("wrong")
    await marketo.locator("[type=submit]").click()
    await expect(marketo.locator(".result")).to_contain_text("Bad client credentials")
    await marketo.locator("[name=client_secret]").fill(CLIENT_SECRET)
    await marketo.locator("[type=submit]").click()
    await expect(marketo.locator(".result")).to_have_text("Saved: the credentials work.")
    await marketo.locator("[data-action=test]").click()
    await expect(marketo.locator(".result")).to_have_text("Marketo answered with a token")
    await marketo.locator("[data-action=sync]").click()
    await expect(marketo.locator(".result")).to_contain_text("Synced: 7 read")
    await expect(marketo.locator("[data-state]")).to_contain_text("ok")
    await expect(marketo.locator("[data-state]")).to_contain_text("last sync 11/26/2026, 9:00:00 AM")  # 09:00 UTC, in London

    await page.reload()  # what was saved shows again; secrets never do
    await expect(mailbox.locator("[data-state]")).to_contain_text("Connected")
    assert await mailbox.locator("[name=password]").input_value() == ""
    assert await page.locator("#website [name=anonymize_ips]").is_checked()
    assert await page.locator("#target-ranking [name=tier_method]").input_value() == "fixed"
    assert await never.locator("[name=do_not_track]").input_value() == "legal@prospect.test\n@privacy.example"
    assert await marketo.locator("[name=client_secret]").input_value() == ""
    await context.close()


async def test_settings_smtp_account_test_save_keep_password_and_remove(browser, server, rep, clock, mail_server):
    port, _ = mail_server
    context = await browser.new_context()
    page = await context.new_page()
    await open_signin_link(page, signin_url(server.runtime.signer, server.url, user_id=rep.id, now=clock()))
    await page.goto(server.url + "/app/settings")
    smtp = page.locator("#smtp")
    await smtp.locator("[name=host]").fill("127.0.0.1")
    await smtp.locator("[name=port]").fill(str(port))
    await smtp.locator("[name=security]").select_option("plain")
    await smtp.locator("[name=username]").fill("rita")
    await smtp.locator("[name=password]").fill("wrong-password")
    await smtp.locator("[data-action=test]").click()
    await expect(smtp.locator(".result")).to_contain_text("password: the server refused the username or password (SMTP 535)")
    await smtp.locator("[name=password]").fill("app-password-1")
    await smtp.locator("[data-action=test]").click()
    await expect(smtp.locator(".result")).to_contain_text("Signed in to 127.0.0.1 as rita")
    await smtp.locator("[type=submit]").click()
    await expect(smtp.locator("[data-state]")).to_have_text(f"Sending as you through rita on 127.0.0.1:{port}")
    await page.reload()
    await expect(smtp.locator("[data-state]")).to_be_visible()
    assert await smtp.locator("[name=password]").input_value() == ""
    await smtp.locator("[type=submit]").click()  # no password typed: the stored one is kept
    await expect(smtp.locator(".result")).to_have_text("Saved: your email now goes out through this account.")
    await smtp.locator("[name=port]").fill("2525")  # another server: the stored password does not go with it
    await expect(smtp.locator("[name=password]")).to_have_attribute("placeholder", "Required: the server or user name changed")
    assert await smtp.locator("[name=password]").evaluate("el => el.required")
    await smtp.locator("[name=port]").fill(str(port))
    assert not await smtp.locator("[name=password]").evaluate("el => el.required")
    await smtp.locator("[data-action=remove]").click()
    await expect(smtp.locator(".result")).to_contain_text("Removed; the password is deleted.")
    await expect(smtp.locator("[data-state]")).to_be_hidden()
    await context.close()


async def test_settings_lists_sessions_and_tokens_and_revokes_them(browser, server, rep, clock):
    context = await browser.new_context()
    page = await context.new_page()
    await open_signin_link(page, signin_url(server.runtime.signer, server.url, user_id=rep.id, now=clock()))
    async with server.client() as client:  # another browser signed in as the rep
        from .support.web import sign_in

        await sign_in(client)
    await page.goto(server.url + "/app/settings")
    access = page.locator("#access")
    sessions = access.locator("[data-list=sessions] li")
    await expect(sessions).to_have_count(2)
    await expect(sessions.filter(has_text="This browser")).to_have_count(1)
    await sessions.filter(has_not_text="This browser").get_by_role("button", name="Sign out").click()
    await expect(sessions).to_have_count(1)
    tokens = access.locator("[data-list=tokens] li")
    await expect(tokens).to_have_count(1)  # the fixture's token
    await access.locator("[name=name]").fill("Gmail extension")
    await access.locator("[type=submit]").click()
    await expect(access.locator(".result")).to_contain_text("New token (shown once, copy it now): lf_")
    made = (await access.locator(".result").text_content()).rsplit(" ", 1)[1]
    await expect(tokens.filter(has_text="Gmail extension")).to_contain_text("expires")
    await tokens.filter(has_text="Gmail extension").get_by_role("button", name="Revoke").click()
    await expect(tokens.filter(has_text="Gmail extension")).to_have_count(0)
    async with server.client() as client:
        assert (await client.get("/api/v1/me", headers={"authorization": f"Bearer {made}"})).status_code == 401
    await context.close()
