import sys

from huleedu_service_libs.runtime import main
from result_aggregator.service import DEFINITION

sys.exit(main(DEFINITION))
