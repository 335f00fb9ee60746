#!/usr/bin/env python3
"""Writes COUNT files of 1-8 KiB random bytes into ~100 subfolders of DEST.

Usage: gen_files.py DEST COUNT
Sizes come from a fixed seed so runs are comparable; contents are os.urandom
(incompressible, so no tool gains from compression).
"""
import os
import random
import sys


def main() -> None:
    dest, count = sys.argv[1], int(sys.argv[2])
    folders = max(1, min(100, count))
    rng = random.Random(20261128)
    total = 0
    for d in range(folders):
        os.makedirs(os.path.join(dest, f"dir{d:03d}"), exist_ok=True)
    for i in range(count):
        size = rng.randint(1024, 8192)
        path = os.path.join(dest, f"dir{i % folders:03d}", f"file{i:06d}.bin")
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        total += size
    print(f"{count} files, {total / 1048576:.1f} MiB in {folders} folders")


if __name__ == "__main__":
    main()
