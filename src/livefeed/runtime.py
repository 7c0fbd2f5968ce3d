"""Everything expensive, built once in the application's lifespan and passed around."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select

from .actions import EmailSender
from .actions.connections import connection_vault
from .core.tokens import TokenSigner
from .db.engine import checkpoint, make_engine
from .db.tables import links, now_utc
from .db.targets import ListCache, TierCache
from .integrations.identity import providers
from .integrations.outbound import Outbound
from .integrations.outbox import OutboxMailer
from .integrations.smtp import Mailer, SmtpMailer, SmtpOptions, smtp_vault
from .live.hub import Hub, MemoryHub
from .live.postgres import PgNotifyHub
from .pipeline.agents import AgentParser
from .pipeline.geo import GeoLocator
from .pipeline.networks import load as load_networks
from .pipeline.recorder import Recorder
from .pipeline.spool import Spool
from .settings import Settings

if TYPE_CHECKING:
    from .integrations.services import Services

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    signer: TokenSigner
    hub: Hub
    recorder: Recorder
    sender: EmailSender
    agents: AgentParser
    geo: GeoLocator
    clock: Callable[[], datetime] = now_utc
    tiers: TierCache | None = None
    target_lists: ListCache | None = None
    credentials: object | None = None  # web.auth.Credentials, made on first use
    services: Services | None = None  # mailbox watchers and syncs (the served app)
    background: list[asyncio.Task] = field(default_factory=list)
    outbound: Outbound = field(default_factory=Outbound)  # the policy for hosts users name (IMAP, SMTP, connectors)
    identity: dict = field(default_factory=dict)  # the configured OpenID providers by name (integrations/identity.py)
    # Called with a workspace id after an action changed its settings (actions/changes.py): the
    # caches outside the runtime that hold them (the tracking edge's webhook keys, site origins).
    settings_listeners: list[Callable[[int], None]] = field(default_factory=list)

    @classmethod
    async def start(cls, settings: Settings, *, clock: Callable[[], datetime] = now_utc, engine: Engine | None = None) -> Runtime:
        engine = engine or make_engine(settings.database_url)
        signer = TokenSigner(settings.secret_key)
        hub: Hub
        if engine.dialect.name == "postgresql":
            hub = PgNotifyHub(engine, database_url=settings.database_url, queue_size=settings.stream_queue_size)
        else:
            hub = MemoryHub(queue_size=settings.stream_queue_size)
        await hub.start()
        agents, geo = AgentParser(), GeoLocator(settings.geoip_db)
        recorder = Recorder(
            engine,
            hub=hub,
            agents=agents,
            geo=geo,
            spool=Spool(settings.var_dir / "spool"),
            networks=load_networks(settings.var_dir),
        )
        await recorder.start()
        mailer: Mailer
        if settings.smtp_url:
            mailer = SmtpMailer(SmtpOptions.from_url(settings.smtp_url))
        else:
            mailer = OutboxMailer(engine, clock=clock)
        outbound = Outbound(settings.outbound_allow, timeout=settings.outbound_timeout_seconds)
        identity = providers(settings.google, settings.microsoft)
        sender = EmailSender(
            engine,
            signer=signer,
            public_url=settings.public_url,
            mailer=mailer,
            clock=clock,
            vault=smtp_vault(settings.secret_key),
            outbound=outbound,
            identity=identity,
            api_urls={"google": settings.gmail_api_url, "microsoft": settings.graph_api_url},
            connection_vault=connection_vault(settings.secret_key),
            recorder=recorder,
        )
        lists = ListCache(clock=clock, ttl=settings.target_cache_seconds)
        hub.watchers.append(lists.forget)
        runtime = cls(
            settings,
            engine,
            signer,
            hub,
            recorder,
            sender,
            agents,
            geo,
            clock,
            TierCache(engine, clock=clock),
            lists,
            outbound=outbound,
            identity=identity,
        )
        if engine.dialect.name == "sqlite":
            runtime.background.append(asyncio.create_task(runtime._checkpoints(), name="livefeed-checkpoint"))
        runtime.background.append(asyncio.create_task(runtime._heartbeats(), name="livefeed-heartbeat"))
        runtime.background.append(asyncio.create_task(runtime._replays(), name="livefeed-spool"))
        return runtime

    async def _replays(self) -> None:
        """Record spooled hits (this process's, or a dead one's) as soon as the database takes them."""
        while True:
            try:
                await self.recorder.replay_spool()
            except Exception as exc:  # still away: the next round tries again
                log.debug("spool not replayed yet: %s", exc)
            await asyncio.sleep(self.settings.spool_seconds)

    async def _heartbeats(self) -> None:
        """One timer queues a heartbeat on every idle stream (keeps proxies from closing them)."""
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            self.hub.heartbeat()

    async def _checkpoints(self) -> None:
        """Keep the SQLite WAL short from a background thread (commits never checkpoint), and
        publish events another process (`livefeed import`) appended meanwhile."""
        failing = False
        while True:
            await asyncio.sleep(self.settings.checkpoint_seconds)
            try:
                await asyncio.to_thread(checkpoint, self.engine)
                await self.recorder.catch_up()
                failing = False
            except Exception as exc:  # a busy database or a full disk: the next round catches up
                if not failing:  # once, not every second for as long as it lasts
                    log.warning("WAL checkpoint or catch-up failed (said once until it works again): %s", exc)
                failing = True

    async def stop(self) -> None:
        if self.services is not None:
            await self.services.stop()
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        if self.tiers is not None:
            await self.tiers.close()
        await self.recorder.stop()
        await self.hub.stop()
        self.geo.close()
        self.engine.dispose()

    async def link_url(self, link_id: int) -> str | None:
        def read():
            with self.engine.connect() as conn:
                return conn.execute(select(links.c.url).where(links.c.id == link_id)).scalar()

        return await asyncio.to_thread(read)
