"""``python -m nasbench_capacitance ...`` runs the ``nbcap`` command."""

import sys

from .cli import main

sys.exit(main())
