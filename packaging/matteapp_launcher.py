"""The frozen bundle's entry point: the `matteapp` console script (window, commands, --self-test).

PyInstaller needs a script file; the package's ``__main__`` would be analysed from the source tree
instead of from the build venv's installed copy, whose package data is the distribution's.
"""

import multiprocessing
import sys

from matteapp.__main__ import main

if __name__ == "__main__":
    # A frozen child process started by multiprocessing (spawn, as on Windows and macOS) must run the
    # child's code, not open a second window.
    multiprocessing.freeze_support()
    sys.exit(main())
