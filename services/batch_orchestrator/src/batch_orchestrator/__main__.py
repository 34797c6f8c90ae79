import sys

from batch_orchestrator.service import DEFINITION
from huleedu_service_libs.runtime import main

sys.exit(main(DEFINITION))
