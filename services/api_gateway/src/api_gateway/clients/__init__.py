"""HTTP clients of the services the gateway reads from and writes through."""

from api_gateway.clients.batch_orchestrator import BatchOrchestratorClient, BatchView
from api_gateway.clients.file_service import FileServiceClient
from api_gateway.clients.result_aggregator import ResultAggregatorClient
from api_gateway.clients.upstream import UpstreamClient, UpstreamError

__all__ = [
    "BatchOrchestratorClient",
    "BatchView",
    "FileServiceClient",
    "ResultAggregatorClient",
    "UpstreamClient",
    "UpstreamError",
]
