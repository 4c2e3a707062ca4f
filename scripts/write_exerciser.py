#!/usr/bin/env python3
"""Seeded random writes, truncates, reads, fsyncs and reopens on a few files in a directory
(a bucketfs mount), checked at every read against an in-memory model.

  write_exerciser.py run DIR MODEL_DIR SEED OPS   exercise, then save the model in MODEL_DIR
  write_exerciser.py verify DIR MODEL_DIR         compare DIR's files with the saved model

Exits 0 when every check held; otherwise prints the first difference and exits 1."""
import os
import random
import sys

BIG = 40 << 20


def fail(msg):
    print("MISMATCH: " + msg, flush=True)
    sys.exit(1)


def first_diff(a, b):
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return i
    return min(len(a), len(b))


def run(d, model_dir, seed, ops):
    rng = random.Random(seed)
    names = ["big.bin", "new.bin", "mid.bin"]
    model = {}
    # A stored object to start from: its unchanged ranges go back as server-side copies.
    model["big.bin"] = bytearray(rng.randbytes(BIG))
    with open(os.path.join(d, "big.bin"), "wb") as f:
        f.write(model["big.bin"])
    model["mid.bin"] = bytearray(rng.randbytes(12 << 20))
    with open(os.path.join(d, "mid.bin"), "wb") as f:
        f.write(model["mid.bin"])
    model["new.bin"] = bytearray()
    fds = {}
    appends = {}

    def reopen(name):
        if name in fds:
            os.close(fds[name])
        append = rng.random() < 0.2
        flags = os.O_RDWR | (os.O_CREAT if name == "new.bin" else 0) | (os.O_APPEND if append else 0)
        fds[name] = os.open(os.path.join(d, name), flags, 0o644)
        appends[name] = append

    for n in names:
        reopen(n)
    for step in range(ops):
        name = rng.choice(names)
        fd, m = fds[name], model[name]
        r = rng.random()
        if r < 0.45:
            size = rng.choice([1, 7, 512, 4096, 65536, 131072, rng.randint(1, 1 << 20)])
            if name == "big.bin" and rng.random() < 0.5:
                off = max(0, len(m) - rng.randint(0, 4 << 20))
            else:
                off = rng.randint(0, len(m) + (1 << 16))
            data = rng.randbytes(size)
            if appends[name]:
                off = len(m)
            written = os.pwrite(fd, data, off) if not appends[name] else os.write(fd, data)
            if written != size:
                fail(f"step {step}: short write {written} of {size}")
            if off > len(m):
                m.extend(b"\0" * (off - len(m)))
            m[off:off + size] = data
        elif r < 0.72:
            off = rng.randint(0, len(m) + 10)
            size = rng.randint(1, 1 << 18)
            got = os.pread(fd, size, off)
            want = bytes(m[off:off + size])
            if got != want:
                i = first_diff(got, want)
                fail(f"step {step}: read {name} at {off}+{size}: {len(got)} bytes, want {len(want)}; first difference at {off + i}")
        elif r < 0.80:
            if rng.random() < 0.1:
                new = rng.randint(0, int(len(m) * 1.2) + 4096)
            else:
                new = max(0, len(m) + rng.randint(-(2 << 20), 1 << 20))
            if name == "big.bin":
                # Mostly a large file, so that its unchanged ranges are copied on the server.
                new = max(new, 24 << 20) if rng.random() < 0.95 else new
            os.ftruncate(fd, new)
            if new < len(m):
                del m[new:]
            else:
                m.extend(b"\0" * (new - len(m)))
        elif r < 0.84:
            os.fsync(fd)
        elif r < 0.87:
            reopen(name)
        else:
            st = os.fstat(fd).st_size
            if st != len(m):
                fail(f"step {step}: fstat size of {name} {st}, want {len(m)}")
    for n in names:
        os.close(fds[n])
    verify(d, model)
    os.makedirs(model_dir, exist_ok=True)
    for n in names:
        with open(os.path.join(model_dir, n), "wb") as f:
            f.write(model[n])


def verify(d, model):
    for n, m in model.items():
        with open(os.path.join(d, n), "rb") as f:
            got = f.read()
        if got != bytes(m):
            fail(f"{n}: {len(got)} bytes, want {len(m)}; first difference at {first_diff(got, m)}")


def main():
    if len(sys.argv) >= 6 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif len(sys.argv) == 4 and sys.argv[1] == "verify":
        model = {}
        for n in os.listdir(sys.argv[3]):
            with open(os.path.join(sys.argv[3], n), "rb") as f:
                model[n] = f.read()
        verify(sys.argv[2], model)
    else:
        print(__doc__)
        sys.exit(2)
    print("OK")


main()
