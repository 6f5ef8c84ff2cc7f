"""The FastAPI application: the routes, the error table, the middleware, and a lifespan that
starts and stops the scheduler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from taskdaemond import __version__
from taskdaemond.api.errors import install_error_handlers
from taskdaemond.api.middleware import BearerToken, BodyLimit, HostCheck, HostPolicy, JsonBody
from taskdaemond.api.openapi import install_openapi
from taskdaemond.api.routes import router
from taskdaemond.api.streams import router as streams_router
from taskdaemond.scheduler import Scheduler
from taskdaemond.ui import install as install_ui


def create_app(scheduler: Scheduler, *, manage_scheduler: bool = True) -> FastAPI:
    """The API over ``scheduler``'s task service; the app's lifespan starts and stops the
    scheduler unless ``manage_scheduler`` is False."""
    settings = scheduler.config.daemon

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_scheduler:
            await scheduler.start()
        try:
            yield
        finally:
            if manage_scheduler:
                await scheduler.shutdown()

    app = FastAPI(
        title="taskdaemond",
        version=__version__,
        lifespan=lifespan,
        description="The reference TaskDaemon daemon: TaskDaemon's HTTP API, and more.",
    )
    app.state.service = scheduler.service
    app.include_router(router)
    app.include_router(streams_router)
    install_error_handlers(app)
    install_openapi(app, scheduler.service.task_types, token=bool(settings.token))
    # Added innermost first: a request meets HostCheck, BearerToken, JsonBody, then BodyLimit.
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_size,
        in_flight_budget=max(settings.max_body_bytes_in_flight, settings.max_body_size),
    )
    app.add_middleware(JsonBody)
    if settings.token:
        app.add_middleware(BearerToken, token=settings.token)
    # The dashboard at /ui: its page shells and assets are served in front of the token.
    install_ui(app, token_required=bool(settings.token))
    app.add_middleware(HostCheck, policy=HostPolicy(settings.host, settings.allowed_hosts))
    return app
