"""``python -m dlnotes.train`` (the same as ``dlnotes train``)."""

import sys

from dlnotes.train.loop import main

sys.exit(main())
