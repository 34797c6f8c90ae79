import sys

from content_service.service import DEFINITION
from huleedu_service_libs.runtime import main

sys.exit(main(DEFINITION))
