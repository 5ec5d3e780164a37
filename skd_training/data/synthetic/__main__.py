"""``python -m skd_training.data.synthetic`` = ``skd-make-synthetic``."""

import sys

from skd_training.data.synthetic import main

sys.exit(main())
