"""``python -m dlnotes.train`` (the same as ``dlnotes train``)."""

import sys

from dlnotes.train.command import main

sys.exit(main())
