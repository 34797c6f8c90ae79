"""HTTP clients of the services the gateway reads from and writes through."""

from api_gateway.clients.batch_orchestrator import BatchOrchestratorClient, BatchView
from api_gateway.clients.essay_lifecycle import BatchEssays, EssayLifecycleClient
from api_gateway.clients.file_service import FileServiceClient
from api_gateway.clients.upstream import UpstreamClient, UpstreamError

__all__ = [
    "BatchEssays",
    "BatchOrchestratorClient",
    "BatchView",
    "EssayLifecycleClient",
    "FileServiceClient",
    "UpstreamClient",
    "UpstreamError",
]
