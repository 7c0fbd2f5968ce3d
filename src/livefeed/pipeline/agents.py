"""User agent → client, OS, device (ua-parser) and crawler signature (Crawler-Detect), cached."""

from __future__ import annotations

import threading
from functools import lru_cache

from crawlerdetect import CrawlerDetect
from ua_parser import parse

from ..core.model import Agent

MAX_AGENT = 500  # longer user agents are truncated before parsing and storing


def _version(name: str, *parts: str | None) -> str:
    if name in ("", "Other"):
        return ""
    major = parts[0] if parts else None
    return f"{name} {major}" if major else name


class AgentParser:
    """Built once at start-up; `describe` is safe to call from any thread."""

    def __init__(self, cache_size: int = 65536):
        self._crawlers = CrawlerDetect()
        self._lock = threading.Lock()  # CrawlerDetect keeps the last match on the instance
        self.describe = lru_cache(maxsize=cache_size)(self._describe)
        # ua-parser compiles its regexes on first use (≈ 300 ms): do it now, not on the first hit.
        self._describe(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
        )

    def _describe(self, raw: str) -> Agent:
        raw = raw[:MAX_AGENT]
        result = parse(raw)
        client = _version(result.user_agent.family, result.user_agent.major) if result.user_agent else ""
        os_name = _version(result.os.family, result.os.major) if result.os else ""
        device = result.device.family if result.device and result.device.family not in ("Other", "Spider") else ""
        with self._lock:
            crawler = self._crawlers.getMatches() if raw and self._crawlers.isCrawler(raw) else None
        return Agent(raw=raw, client=client, os=os_name, device=device, crawler=crawler)
