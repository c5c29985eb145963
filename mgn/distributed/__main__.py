"""``python -m mgn.distributed``: one local-SGD worker, launched by ``torchrun`` (see ``worker``)."""

import sys

from mgn.distributed.worker import main

if __name__ == "__main__":
    sys.exit(main())
