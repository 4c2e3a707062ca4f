#!/usr/bin/env python3
"""Prints N free TCP ports on 127.0.0.1 whose +10000 is free too (weed's gRPC convention):
  free_ports.py N"""
import random
import socket
import sys


def free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


n = int(sys.argv[1])
out = []
while len(out) < n:
    p = random.randint(20000, 29999)
    if p not in out and p + 10000 not in out and free(p) and free(p + 10000):
        out.append(p)
print(" ".join(map(str, out)))
