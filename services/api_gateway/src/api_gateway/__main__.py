import sys

from api_gateway.service import DEFINITION
from huleedu_service_libs.runtime import main

sys.exit(main(DEFINITION))
