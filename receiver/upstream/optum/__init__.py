"""The Optum API client: ERA Enrollment submissions and results, and the Coverage Discovery
task list, over OAuth2 client credentials (see `client.OptumClient`)."""

from receiver.upstream.optum.client import OptumClient
from receiver.upstream.optum.connection import (
    Endpoint,
    OptumApi,
    OptumConnection,
    OptumDefaults,
    TokenAuthMethod,
)
from receiver.upstream.optum.errors import OptumError
from receiver.upstream.optum.paging import MAX_PAGE_SIZE, TASK_STATUSES, TaskPage

__all__ = [
    "MAX_PAGE_SIZE",
    "TASK_STATUSES",
    "Endpoint",
    "OptumApi",
    "OptumClient",
    "OptumConnection",
    "OptumDefaults",
    "OptumError",
    "TaskPage",
    "TokenAuthMethod",
]
