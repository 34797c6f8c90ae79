"""llm_provider: durable comparison queue, rate limits, retries, providers."""

import sys

from huleedu_service_libs.runtime import main
from llm_provider.service import DEFINITION

sys.exit(main(DEFINITION))
