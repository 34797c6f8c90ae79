import sys

from huleedu_service_libs.runtime import main
from spellchecker.service import DEFINITION

sys.exit(main(DEFINITION))
