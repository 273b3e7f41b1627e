"""``python -m reference_services.deploy --state DIR COMMAND ...``"""

import sys

from reference_services.deploy.cli import main

sys.exit(main())
