import sys

from cj_assessment.service import DEFINITION
from huleedu_service_libs.runtime import main

sys.exit(main(DEFINITION))
