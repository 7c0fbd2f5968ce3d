"""Regenerate docs/screenshots/ from the live demo, so the pictures show the product as it is.

    .venv/bin/python tools/screenshots.py [--seconds 45]

Starts `livefeed serve --demo` on a temporary database, lets the simulator play for a while (opens,
clicks, replies by SMTP, Marketo webhooks, score rises), signs in with the printed link and
captures the Live Feed window's three tabs and the web app's main pages with Debian's Chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def capture(base: str, link: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium")
        context = await browser.new_context()  # one sign-in (links work once) for both pages
        window = await context.new_page()
        await window.set_viewport_size({"width": 380, "height": 680})
        await window.goto(link)
        await window.get_by_role("button", name="Sign in").click()
        await window.wait_for_url("**/app")
        await window.goto(base + "/live")
        await window.wait_for_selector("#feed .row")
        await window.wait_for_timeout(1000)
        await window.screenshot(path=OUT / "window-engagement.png")
        for tab, rows in (("tasks", "#task-list .task"), ("target", "#target-list .target")):
            await window.click(f"[data-tab={tab}]")
            await window.wait_for_selector(rows)
            await window.screenshot(path=OUT / f"window-{tab}.png")
        app = await context.new_page()
        await app.set_viewport_size({"width": 1200, "height": 800})
        for path, name in (("/app?template=1", "app-compose-sent"), ("/app/people", "app-people"),
                           ("/app/settings", "app-settings"), ("/app/templates", "app-templates")):
            await app.goto(base + path)
            await app.wait_for_load_state("networkidle")
            await app.screenshot(path=OUT / f"{name}.png")
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=45, help="how long the demo plays before the pictures")
    args = parser.parse_args()
    port = free_port()
    var = tempfile.mkdtemp(prefix="livefeed-shots-")
    env = {**os.environ, "LIVEFEED_VAR_DIR": var}
    server = subprocess.Popen([str(Path(sys.executable).with_name("livefeed")), "serve", "--demo", "--port", str(port),
                               "--no-access-log"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        link = None
        deadline = time.monotonic() + 60
        while link is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            found = re.search(r"(http://\S+/signin/link/\S+)", line)
            link = found.group(1) if found else None
        if link is None:
            sys.exit("the demo did not print its sign-in link")
        time.sleep(args.seconds)
        OUT.mkdir(parents=True, exist_ok=True)
        asyncio.run(capture(f"http://127.0.0.1:{port}", link))
        print("wrote", ", ".join(sorted(p.name for p in OUT.glob("*.png"))))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
