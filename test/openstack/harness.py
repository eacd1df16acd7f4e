"""What the test's Python processes share: how they are stopped and how they talk to the test.

Run by the Node tests with Debian's /usr/bin/python3 (the OpenStack packages live in its dist-packages). A process
prints one JSON object per line on stdout for the test to read; logs go elsewhere (a file or stderr). The test stops
a process by closing its stdin, so that a test process that dies without cleaning up never leaves one running.
"""

import json
import sys
import threading


def say(obj):
    """One JSON line on stdout, flushed: the test waits for these."""
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def on_stdin_closed(stop):
    """Calls stop() (from a daemon thread) once stdin reaches EOF: the test is done with us, or gone."""

    def watch():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            stop()

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()
