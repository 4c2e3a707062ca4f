#!/usr/bin/env python3
"""Writes a tree with POSIX metadata through a mount, for the metadata benchmark rows.

    bench_tree.py ROOT COUNT DIRS

COUNT entries spread over DIRS directories (ROOT itself when DIRS is 1); every tenth entry is a
symlink, the others small files whose mode, owner and times are set before close (so each is
stored once). Eight writer processes.
"""
import os
import sys
from multiprocessing import Pool

root, count, dirs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def where(i):
    return root if dirs == 1 else os.path.join(root, "d%03d" % (i % dirs))


def write(i):
    d = where(i)
    path = os.path.join(d, "e%05d" % i)
    if i % 10 == 9:
        os.symlink("e%05d" % (i - 1), path)
        return
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    os.write(fd, b"x" * (100 + i % 900))
    os.fchmod(fd, 0o600 + (i % 8) * 0o10)
    os.fchown(fd, 1000 + i % 7, 2000 + i % 5)
    os.utime(fd, (1_500_000_000 + i, 1_400_000_000 + i))
    os.close(fd)


if __name__ == "__main__":
    os.makedirs(root, exist_ok=True)
    for i in range(dirs if dirs > 1 else 0):
        os.makedirs(where(i), exist_ok=True)
    with Pool(8) as p:
        p.map(write, range(count), chunksize=64)
