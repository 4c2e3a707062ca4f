#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import S3
import TestSupport
import XCTest

/// Writable mounts driven with standard tools (cp, tar, rsync, shells, python's os module):
/// bytes read back through the mount and through the raw client, errors checked by errno.
final class WriteMountTests: XCTestCase {
    func scratch(_ tag: String) -> String {
        let p = "\(MountFixture.runDir)/\(tag)-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    /// Runs a Python program (Debian's, standard library only); answers status and output.
    func python(_ program: String, timeout: Double = 300) -> (status: Int32, out: String, err: String) {
        sh("/usr/bin/python3 - <<'PY'\n\(program)\nPY", timeout: timeout)
    }

    func bytes(_ c: S3Client, _ bucket: String, _ key: String) async throws -> [UInt8] {
        let out = try await c.getObject(bucket, key: key, maxBytes: 1 << 30)
        return Array(out.body?.readableBytesView ?? ByteBuffer().readableBytesView)
    }

    func exists(_ c: S3Client, _ bucket: String, _ key: String) async throws -> Bool {
        do {
            _ = try await c.headObject(bucket, key: key)
            return true
        } catch let e as S3Error where e.errno == ENOENT {
            return false
        }
    }

    /// A tree with nested directories, 1,000 small files, odd names, a symlink and a larger file.
    func makeTree(_ root: String) {
        let r = sh("""
            set -e; cd \(shellQuote(root)); mkdir -p src; cd src
            for d in 0 1 2 3 4 5 6 7 8 9; do mkdir -p d$d/sub; for f in $(seq 0 99); do head -c $((4096 + d)) /dev/urandom > d$d/f$f; done; done
            mkdir -p 'with space/한국어' d0/sub/deep
            echo spaces > 'with space/a b.txt'; echo korean > 'with space/한국어/파일.txt'; echo odd > 'with space/%+?#.txt'
            head -c 20971531 /dev/urandom > d0/sub/deep/large.bin
            ln -s f1 d0/link
            chmod 600 d1/f1; chmod 750 d2
            touch -h -m -d @1500000000 d0/link; touch -m -d @1400000000 d3/f3 d4
            """, timeout: 120)
        XCTAssertEqual(r.status, 0, r.err)
    }

    func testCopyTarAndRsyncIntoTheMount() async throws {
        try await forEachServerBucket("tools") { server, c, bucket in
            let local = scratch("tree")
            makeTree(local)
            let m = MountFixture(server: server)
            try m.mount(bucket)
            defer { m.unmount() }
            let src = shellQuote(local + "/src")

            // cp -r, then diff -r; the bucket holds the same bytes.
            var r = sh("cp -r \(src) \(shellQuote(m.path("cp")))", timeout: 600)
            XCTAssertEqual(r.status, 0, "[\(server.name)] cp: \(r.err)")
            r = sh("diff -r \(src) \(shellQuote(m.path("cp")))", timeout: 300)
            XCTAssertEqual(r.status, 0, "[\(server.name)] diff: \(r.out) \(r.err)")
            var keys: [String] = []
            try await c.listAllObjects(bucket, ListObjectsRequest(prefix: "cp/")) { keys += $0.objects.map(\.key) }
            XCTAssertEqual(keys.filter { !$0.hasSuffix("/") && !$0.hasSuffix("/.bucketfs-metadata") }.count, 1000 + 4 + 1, server.name)
            let large = try Data(contentsOf: URL(fileURLWithPath: local + "/src/d0/sub/deep/large.bin"))
            let stored = try await bytes(c, bucket, "cp/d0/sub/deep/large.bin")
            XCTAssertEqual(stored, [UInt8](large), "the raw client reads what cp wrote")
            let korean = try await bytes(c, bucket, "cp/with space/한국어/파일.txt")
            XCTAssertEqual(String(decoding: korean, as: UTF8.self), "korean\n")
            let got1 = try await bytes(c, bucket, "cp/with space/%+?#.txt")
            XCTAssertEqual(got1, Array("odd\n".utf8))

            // tar x then tar c: the same archive, byte for byte (names, modes, owners, times, links).
            let a = shellQuote(local + "/a.tar"), b = shellQuote(local + "/b.tar")
            XCTAssertEqual(sh("tar -C \(src) --sort=name --format=gnu -cf \(a) .").status, 0)
            r = sh("mkdir \(shellQuote(m.path("tar"))) && tar -C \(shellQuote(m.path("tar"))) -xf \(a)", timeout: 600)
            XCTAssertEqual(r.status, 0, "[\(server.name)] tar x: \(r.err)")
            r = sh("tar -C \(shellQuote(m.path("tar"))) --sort=name --format=gnu -cf \(b) .", timeout: 300)
            XCTAssertEqual(r.status, 0, r.err)
            r = sh("cmp \(a) \(b) && echo same")
            XCTAssertEqual(r.out, "same\n", "[\(server.name)] tar c after tar x: \(r.out) \(r.err) "
                           + sh("diff <(tar -tvf \(a)) <(tar -tvf \(b)) | head -5", timeout: 60).out)

            // rsync -a, then a second rsync finds nothing to do: sizes, times and modes stuck.
            r = sh("rsync -a \(src)/ \(shellQuote(m.path("rs")))/", timeout: 600)
            XCTAssertEqual(r.status, 0, "[\(server.name)] rsync: \(r.err)")
            r = sh("diff -r \(src) \(shellQuote(m.path("rs")))", timeout: 300)
            XCTAssertEqual(r.status, 0, "[\(server.name)] diff after rsync: \(r.out) \(r.err)")
            r = sh("rsync -a -i --dry-run \(src)/ \(shellQuote(m.path("rs")))/ | grep -v '^\\.d\\.\\.t' | head -5", timeout: 300)
            XCTAssertEqual(r.out, "", "[\(server.name)] rsync would change: \(r.out)")

            // Renames of a file and of a directory with children; rm -rf.
            r = sh("mv \(shellQuote(m.path("cp/d1/f1"))) \(shellQuote(m.path("cp/moved"))) && mv \(shellQuote(m.path("cp/d2"))) \(shellQuote(m.path("cp/d2-renamed")))")
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(sh("cmp \(shellQuote(local + "/src/d1/f1")) \(shellQuote(m.path("cp/moved")))").status, 0)
            XCTAssertEqual(sh("diff -r \(shellQuote(local + "/src/d2")) \(shellQuote(m.path("cp/d2-renamed")))").status, 0)
            let got2 = try await exists(c, bucket, "cp/d1/f1")
            XCTAssertFalse(got2)
            var left: [String] = []
            try await c.listAllObjects(bucket, ListObjectsRequest(prefix: "cp/d2/")) { left += $0.objects.map(\.key) }
            XCTAssertEqual(left, [], "nothing is left under a renamed directory")
            XCTAssertEqual(sh("rm -rf \(shellQuote(m.path("cp")))", timeout: 300).status, 0)
            XCTAssertFalse(FileManager.default.fileExists(atPath: m.path("cp")))
            left = []
            try await c.listAllObjects(bucket, ListObjectsRequest(prefix: "cp/")) { left += $0.objects.map(\.key) }
            XCTAssertEqual(left, [], "rm -rf leaves nothing")
            try? FileManager.default.removeItem(atPath: local)
        }
    }

    func testShellWritesAppendsTruncatesAndErrnos() async throws {
        try await forEachServerBucket("posix") { server, c, bucket in
            let m = MountFixture(server: server)
            try m.mount(bucket)
            defer { m.unmount() }
            let p = { (s: String) in shellQuote(m.path(s)) }
            XCTAssertEqual(sh("echo one > \(p("app")) && echo two >> \(p("app")) && cat \(p("app"))").out, "one\ntwo\n")
            let got3 = try await bytes(c, bucket, "app")
            XCTAssertEqual(got3, Array("one\ntwo\n".utf8))
            XCTAssertEqual(sh("truncate -s 12 \(p("app")) && od -An -c \(p("app")) | tr -s ' '").out, " o n e \\n t w o \\n \\0 \\0 \\0 \\0\n")
            XCTAssertEqual(sh("truncate -s 2 \(p("app")) && cat \(p("app"))").out, "on")
            let got4 = try await bytes(c, bucket, "app")
            XCTAssertEqual(got4, Array("on".utf8))
            XCTAssertEqual(sh("mkdir -p \(p("a/b/c")) && echo x > \(p("a/b/c/f")) && ls \(p("a/b"))").out, "c\n")
            let got5 = try await exists(c, bucket, "a/b/c/")
            XCTAssertTrue(got5, "mkdir writes the marker")
            // s3fs conventions: mode with type bits, uid, gid, mtime.
            let info = try await c.headObject(bucket, key: "a/b/c/f")
            XCTAssertEqual(info.metadata["mode"], String(0o100644 & ~0, radix: 10))
            XCTAssertEqual(info.metadata["uid"], String(getuid()))

            let program = """
                import ctypes, errno, os, time
                d = \(String(reflecting: m.path("")))
                def err(f):
                    try:
                        f()
                        return "ok"
                    except OSError as e:
                        return errno.errorcode[e.errno]
                out = []
                # open(O_CREAT|O_RDONLY) creates the file.
                os.close(os.open(d + "/created", os.O_CREAT | os.O_RDONLY, 0o644))
                out.append("created=%d" % os.stat(d + "/created").st_size)
                # ftruncate of unflushed writes takes effect.
                fd = os.open(d + "/trunc", os.O_CREAT | os.O_WRONLY, 0o644)
                os.write(fd, b"x" * 100); os.ftruncate(fd, 10); os.close(fd)
                out.append("trunc=%d" % os.stat(d + "/trunc").st_size)
                # An unlinked file that is still open stays readable and writable.
                fd = os.open(d + "/gone", os.O_CREAT | os.O_RDWR, 0o644)
                os.write(fd, b"abc"); os.fsync(fd); os.unlink(d + "/gone"); os.write(fd, b"def")
                out.append("gone=" + os.pread(fd, 10, 0).decode() + ",exists=%s" % os.path.exists(d + "/gone"))
                os.close(fd)
                with open(d + "/kept", "w") as f: f.write("stored")
                fd = os.open(d + "/kept", os.O_RDONLY); os.unlink(d + "/kept")
                out.append("kept=" + os.read(fd, 10).decode()); os.close(fd)
                # Times set while the file is still open for writing stick.
                fd = os.open(d + "/timed", os.O_CREAT | os.O_WRONLY, 0o644)
                os.write(fd, b"t"); os.utime(d + "/timed", (1300000000, 1300000000)); os.close(fd)
                out.append("timed=%d" % os.stat(d + "/timed").st_mtime)
                # And on one whose upload is streaming (its first part already sent).
                fd = os.open(d + "/timed-big", os.O_CREAT | os.O_WRONLY, 0o644)
                for _ in range(10): os.write(fd, b"b" * (1 << 20))
                os.utime(fd, (1300000000, 1300000000)); os.fchmod(fd, 0o600); os.close(fd)
                # Two writers of one file see one file; the last close stores it.
                a = os.open(d + "/shared", os.O_CREAT | os.O_RDWR, 0o644)
                b = os.open(d + "/shared", os.O_RDWR)
                os.write(a, b"aaaa"); os.pwrite(b, b"bb", 2)
                out.append("shared=" + os.pread(a, 10, 0).decode())
                os.close(a); os.close(b)
                # Special files are stored; hard links have no place in a bucket.
                out.append("fifo=" + err(lambda: os.mkfifo(d + "/fifo")))
                out.append("dev=" + err(lambda: os.mknod(d + "/dev", 0o600 | 0o020000, os.makedev(1, 3))))
                out.append("link=" + err(lambda: os.link(d + "/trunc", d + "/hard")))
                out.append("notempty=" + err(lambda: os.rmdir(d + "/a")))
                out.append("long=" + err(lambda: open(d + "/" + "x" * 256, "w")))
                # Extended attributes: none yet, then one set and removed.
                out.append("xattr=" + ",".join(err(f) for f in [lambda: os.getxattr(d + "/created", "user.x"),
                    lambda: os.getxattr(d + "/created", "user.x"), lambda: os.listxattr(d + "/created"),
                    lambda: os.setxattr(d + "/created", "user.x", b"1"), lambda: os.removexattr(d + "/created", "user.x")]))
                libc = ctypes.CDLL(None, use_errno=True)
                rc = libc.renameat2(-100, (d + "/trunc").encode(), -100, (d + "/created").encode(), 1)
                out.append("noreplace=%s" % ("ok" if rc == 0 else errno.errorcode[ctypes.get_errno()]))
                os.rename(d + "/trunc", d + "/created")
                out.append("over=%d" % os.stat(d + "/created").st_size)
                print(" ".join(out))
                """
            let r = python(program)
            XCTAssertEqual(r.out, "created=0 trunc=10 gone=abcdef,exists=False kept=stored timed=1300000000 shared=aabb fifo=ok dev=ok "
                           + "link=EPERM notempty=ENOTEMPTY long=ENAMETOOLONG xattr=ENODATA,ENODATA,ok,ok,ok "
                           + "noreplace=EEXIST over=10\n", "[\(server.name)] \(r.err)")
            let got6 = try await exists(c, bucket, "gone")
            XCTAssertFalse(got6)
            let got7 = try await exists(c, bucket, "kept")
            XCTAssertFalse(got7)
            let got8 = try await exists(c, bucket, "trunc")
            XCTAssertFalse(got8)
            let shared = try await bytes(c, bucket, "shared")
            XCTAssertEqual(shared, Array("aabb".utf8), "two writers, one file")
            let got9 = try await c.headObject(bucket, key: "created").size
            XCTAssertEqual(got9, 10)
            let got10 = try await c.headObject(bucket, key: "timed").metadata["mtime"]
            XCTAssertEqual(got10, "1300000000")
            let big = try await c.headObject(bucket, key: "timed-big")
            XCTAssertEqual(big.size, 10 << 20)
            XCTAssertEqual(big.metadata["mtime"], "1300000000", "times set while the upload streamed are stored")
            XCTAssertEqual(big.metadata["mode"], String(0o100600), "a mode set while the upload streamed is stored")
            XCTAssertTrue(sh("df -h \(p(""))").out.contains("bucketfs"))
        }
    }

    /// `-o direct_io`: reads and writes bypass the page cache and still carry the same bytes;
    /// private mappings work, shared ones are refused with ENODEV (what the kernel allows).
    func testDirectIOMount() async throws {
        try await forEachServerBucket("dio") { server, c, bucket in
            let local = scratch("dio")
            let data = shellQuote(local + "/data")
            XCTAssertEqual(sh("head -c 12582917 /dev/urandom > \(data)").status, 0)
            let stored = Array(repeating: UInt8(7), count: 3 << 20) + Array("end".utf8)
            try await c.putObject(bucket, key: "stored", body: ByteBuffer(bytes: stored))
            let m = MountFixture(server: server)
            try m.mount(bucket, options: "direct_io")
            defer { m.unmount() }
            let p = { (s: String) in shellQuote(m.path(s)) }
            let w = sh("dd if=\(data) of=\(p("big")) bs=1M 2>&1 && cmp \(data) \(p("big")) && cp \(data) \(p("copy")) && cmp \(data) \(p("copy"))")
            XCTAssertEqual(w.status, 0, "[\(server.name)] \(w.out)")
            XCTAssertEqual(sh("cmp \(data) \(p("big")) && tail -c 3 \(p("stored"))").out, "end", server.name)
            let info = try await c.headObject(bucket, key: "big")
            XCTAssertEqual(info.size, 12582917)
            // Overwrite in place through one descriptor, read through another already open.
            let program = """
                import errno, mmap, os
                d = \(String(reflecting: m.path("")))
                r = os.open(d + "/copy", os.O_RDONLY)
                before = os.pread(r, 4, 1000)
                w = os.open(d + "/copy", os.O_WRONLY)
                os.pwrite(w, b"ABCD", 1000); os.close(w)
                out = ["seen=%s" % (os.pread(r, 4, 1000) == b"ABCD")]
                os.close(r)
                f = open(d + "/stored", "rb")
                out.append("private=" + mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)[-3:].decode())
                try:
                    mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                    out.append("shared=ok")
                except OSError as e:
                    out.append("shared=" + errno.errorcode[e.errno])
                print(" ".join(out))
                """
            let r = python(program)
            XCTAssertEqual(r.out, "seen=True private=end shared=ENODEV\n", "[\(server.name)] \(r.err)")
            let copy = try await bytes(c, bucket, "copy")
            XCTAssertEqual(Array(copy[1000..<1004]), Array("ABCD".utf8))
            try? FileManager.default.removeItem(atPath: local)
        }
    }

    /// At defaults a write-only handle opened alone bypasses the page cache (less CPU for large
    /// writes); readers and writers on one file still agree at every step, and shared mappings
    /// work while such a writer is open.
    func testWriteOnlyHandlesStayCoherentWithReaders() async throws {
        try await forEachServerBucket("wo") { server, c, bucket in
            let local = scratch("wo")
            let data = shellQuote(local + "/data")
            XCTAssertEqual(sh("head -c 12582917 /dev/urandom > \(data)").status, 0)
            let m = MountFixture(server: server)
            try m.mount(bucket)
            defer { m.unmount() }
            let p = { (s: String) in shellQuote(m.path(s)) }
            let w = sh("dd if=\(data) of=\(p("big")) bs=1M 2>&1 && cmp \(data) \(p("big"))")
            XCTAssertEqual(w.status, 0, "[\(server.name)] \(w.out)")
            let program = """
                import mmap, os
                p = \(String(reflecting: m.path("f")))
                out = []
                with open(p, "wb") as f: f.write(b"a" * 100)
                with open(p, "rb") as f: f.read()  # cached
                with open(p, "ab") as f: f.write(b"b" * 50)
                out.append("append=%s" % (open(p, "rb").read() == b"a" * 100 + b"b" * 50))
                fd = os.open(p, os.O_WRONLY); os.pwrite(fd, b"XYZ", 10); os.close(fd)
                expect = b"a" * 10 + b"XYZ" + b"a" * 87 + b"b" * 50
                out.append("overwrite=%s" % (open(p, "rb").read() == expect))
                # tail -f: a writer alone, then a reader that follows it
                w = os.open(p, os.O_WRONLY | os.O_APPEND)
                r = open(p, "rb")
                seen = r.read()
                for i in range(20):
                    os.write(w, b"line %d\\n" % i)
                    expect += b"line %d\\n" % i
                    seen += r.read()
                out.append("follow=%s" % (seen == expect))
                m = mmap.mmap(r.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ)
                out.append("shared=%s" % (m[:] == expect))
                os.write(w, b"tail")
                out.append("mapped=%s" % (os.pread(r.fileno(), 4, len(expect)) == b"tail"))
                m.close(); r.close(); os.close(w)
                # a reader first: the writer then goes through the page cache with it
                r = open(p, "rb"); r.read()
                w = os.open(p, os.O_WRONLY | os.O_APPEND)
                os.write(w, b"more")
                out.append("after=%s" % (r.read() == b"more"))
                os.close(w); r.close()
                # a mapping that outlived its descriptor sees a later write-only handle's bytes
                fd = os.open(p, os.O_RDONLY)
                m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ)
                os.close(fd)
                before = m[20:24]
                fd = os.open(p, os.O_WRONLY); os.pwrite(fd, b"QRST", 20); os.close(fd)
                out.append("outlived=%s" % (before == b"aaaa" and m[20:24] == b"QRST"))
                m.close()
                print(" ".join(out))
                """
            let r = python(program)
            XCTAssertEqual(r.out, "append=True overwrite=True follow=True shared=True mapped=True after=True outlived=True\n",
                           "[\(server.name)] \(r.err)")
            let stored = try await bytes(c, bucket, "f")
            XCTAssertEqual(stored.count, 308, "[\(server.name)]")
            XCTAssertEqual(Array(stored.suffix(8)), Array("tailmore".utf8))
            let info = try await c.headObject(bucket, key: "big")
            XCTAssertEqual(info.size, 12582917)
            try? FileManager.default.removeItem(atPath: local)
        }
    }

    func testMetadataSticksAcrossRemountAndPermissionsAreChecked() async throws {
        try await forEachServerBucket("meta") { server, c, bucket in
            let m = MountFixture(server: server)
            try m.mount(bucket, options: "allow_other")
            let p = { (s: String) in shellQuote(m.path(s)) }
            let local = scratch("meta")
            sh("echo data > \(shellQuote(local))/src && touch -m -d @1200000000 \(shellQuote(local))/src")
            var r = sh("""
                set -e
                echo hello > \(p("f")); chmod 640 \(p("f")); chown 1234:5678 \(p("f")); touch -m -d @1500000000 \(p("f"))
                mkdir \(p("dir")); chmod 700 \(p("dir")); touch -m -d @1400000000 \(p("dir"))
                cp -p \(shellQuote(local))/src \(p("copied"))
                ln -s f \(p("link"))
                echo open > \(p("public")); chmod 644 \(p("public"))
                """)
            XCTAssertEqual(r.status, 0, r.err)
            // Permission checks follow the stored mode and owner, for other users too.
            let nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups"
            XCTAssertEqual(sh("\(nobody) cat \(p("public"))").out, "open\n")
            XCTAssertTrue(sh("\(nobody) sh -c 'echo x >> \(m.path("public"))'").err.contains("Permission denied"))
            XCTAssertTrue(sh("\(nobody) cat \(p("f"))").err.contains("Permission denied"))
            XCTAssertTrue(sh("\(nobody) touch \(p("dir/x"))").err.contains("Permission denied"))
            XCTAssertTrue(sh("\(nobody) touch \(p("new"))").err.contains("Permission denied"))
            XCTAssertEqual(sh("stat -c '%a %Y %F' \(p("dir"))").out, "700 1400000000 directory\n", server.name)
            m.unmount()
            // SeaweedFS keeps no metadata on directory markers (`dir/` objects): there a
            // directory's mode and times come from its parent's metadata record.

            try m.mount(bucket)
            defer { m.unmount() }
            XCTAssertEqual(sh("stat -c '%a %u %g %Y %s' \(p("f"))").out, "640 1234 5678 1500000000 6\n", server.name)
            XCTAssertEqual(sh("stat -c '%a %Y %F' \(p("dir"))").out, "700 1400000000 directory\n", server.name)
            XCTAssertEqual(sh("stat -c '%Y' \(p("copied"))").out, "1200000000\n")
            XCTAssertEqual(sh("readlink \(p("link"))").out, "f\n")
            XCTAssertEqual(sh("cat \(p("link"))").out, "hello\n")
            let info = try await c.headObject(bucket, key: "f")
            XCTAssertEqual(info.metadata["mode"], String(0o100640))
            XCTAssertEqual(info.metadata["uid"], "1234")
            XCTAssertEqual(info.metadata["gid"], "5678")
            XCTAssertEqual(info.metadata["mtime"], "1500000000")
            let got11 = try await c.headObject(bucket, key: "link").metadata["mode"]
            XCTAssertEqual(got11, String(0o120777))
            // `posix_metadata` listings show the same.
            m.unmount()
            try m.mount(bucket, options: "posix_metadata")
            r = sh("ls -l --time-style=+%s \(p("")) | awk '{print $1, $6, $7}'")
            XCTAssertTrue(r.out.contains("-rw-r----- 1500000000 f\n"), r.out)
            XCTAssertTrue(r.out.contains("drwx------ 1400000000 dir\n"), r.out)
            try? FileManager.default.removeItem(atPath: local)
        }
    }

    func testLargeSequentialWrite() async throws {
        try await forEachServerBucket("large") { server, c, bucket in
            // 1 GiB on SeaweedFS; 96 MiB on Swift s3api (parts numbered within its limit of 1000).
            let size = server.isSwift ? 96 << 20 : 1 << 30
            let local = scratch("large") + "/data"
            let gen = sh("head -c \(size) /dev/urandom > \(shellQuote(local)) && sha256sum < \(shellQuote(local))", timeout: 300)
            let m = MountFixture(server: server)
            try m.mount(bucket)
            defer { m.unmount() }
            let r = sh("dd if=\(shellQuote(local)) of=\(shellQuote(m.path("big"))) bs=1M 2>&1", timeout: 600)
            XCTAssertEqual(r.status, 0, r.out)
            // Stored once close returned: the raw client sees it, with the same bytes.
            let info = try await c.headObject(bucket, key: "big")
            XCTAssertEqual(info.size, Int64(size))
            XCTAssertTrue(info.etag.contains("-"), "streamed as a multipart upload")
            var hasher = SHA256Stream()
            var off: Int64 = 0
            while off < Int64(size) {
                let n = min(Int64(64 << 20), Int64(size) - off)
                let part = try await c.getObject(bucket, key: "big", range: off...(off + n - 1), maxBytes: Int(n))
                hasher.update(part.body ?? ByteBuffer())
                off += n
            }
            XCTAssertEqual(hasher.hex + "  -\n", gen.out)
            m.unmount()
            try m.mount(bucket)
            XCTAssertEqual(sh("sha256sum < \(shellQuote(m.path("big")))", timeout: 300).out, gen.out)
            try? FileManager.default.removeItem(atPath: local)
        }
    }

    func testRandomWriteExerciserAgainstAModel() async throws {
        try await forEachServerBucket("random") { server, c, bucket in
            let m = MountFixture(server: server)
            try m.mount(bucket)
            defer { m.unmount() }
            let model = scratch("model")
            let script = MountFixture.packageRoot + "/scripts/write_exerciser.py"
            sh("mkdir -p \(shellQuote(m.path("ex")))")
            var r = sh("/usr/bin/python3 \(shellQuote(script)) run \(shellQuote(m.path("ex"))) \(shellQuote(model)) 20261126 3000", timeout: 900)
            XCTAssertEqual(r.out, "OK\n", "[\(server.name)] \(r.out) \(r.err)")
            m.unmount()
            try m.mount(bucket)
            r = sh("/usr/bin/python3 \(shellQuote(script)) verify \(shellQuote(m.path("ex"))) \(shellQuote(model))", timeout: 300)
            XCTAssertEqual(r.out, "OK\n", "[\(server.name)] after remount: \(r.out) \(r.err)")
            try? FileManager.default.removeItem(atPath: model)
        }
    }
}

/// SHA-256 of a stream of buffers, printed as sha256sum does.
struct SHA256Stream {
    private var h = Crypto.SHA256()
    mutating func update(_ b: ByteBuffer) { b.withUnsafeReadableBytes { h.update(bufferPointer: $0) } }
    var hex: String { h.finalize().map { String(format: "%02x", $0) }.joined() }
}

import Crypto
