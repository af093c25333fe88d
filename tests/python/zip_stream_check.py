#!/usr/bin/env python3
"""Reads a zip from stdin as the bytes arrive (stream-unzip: local headers only,
never the central directory, never a seek) and prints, as JSON, each entry's name,
the bytes it held and their CRC-32, computed here from the data.

    helper-made-zip | python zip_stream_check.py > entries.json
"""

import json
import sys
import zlib

from stream_unzip import stream_unzip


def chunks(stream, size=1 << 20):
    while True:
        block = stream.read(size)
        if not block:
            return
        yield block


def main():
    entries = []
    for name, size, data in stream_unzip(chunks(sys.stdin.buffer)):
        crc, length = 0, 0
        for block in data:
            crc = zlib.crc32(block, crc)
            length += len(block)
        entries.append({"name": name.decode("utf-8"), "declared": size, "size": length, "crc32": crc})
    json.dump(entries, sys.stdout)


if __name__ == "__main__":
    main()
