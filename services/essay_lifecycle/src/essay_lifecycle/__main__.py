import sys

from essay_lifecycle.service import DEFINITION
from huleedu_service_libs.runtime import main

sys.exit(main(DEFINITION))
