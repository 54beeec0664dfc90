"""`python -m entrypoints.codec_server`: the codec server (`entrypoints.codec_server.main`)."""

import sys

from entrypoints.codec_server import main
from security.files import private_process

if __name__ == "__main__":
    private_process()  # before anything is written: every file 0600, every folder 0700
    sys.exit(main())
