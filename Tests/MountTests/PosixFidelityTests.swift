#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import S3
import TestSupport
import XCTest

/// What a tree written through the mount looks like after a remount, to s3fs, and to other
/// users: types, modes, owners, times, symlink targets, device numbers and extended attributes
/// survive; permission and naming rules are ext4's; removed trees leave no ghosts; an open sees
/// what another client stored before it.
final class PosixFidelityTests: XCTestCase {
    let nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups"

    /// `find -printf` of every entry below `dir` (type, mode, owner, mtime, target, size, device).
    func inventory(_ dir: String) -> String {
        sh("cd \(shellQuote(dir)) && find . -mindepth 1 -printf '%p %y %m %U %G %T@ %l %s\\n' | sort && "
            + "find . -mindepth 1 \\( -type c -o -type b \\) -exec stat -c '%n %t:%T' {} + | sort").out
    }

    func xattrs(_ dir: String) -> String {
        sh("cd \(shellQuote(dir)) && getfattr -R -h -d -m 'user\\.' . 2>/dev/null").out
    }

    func tarDigest(_ dir: String) -> String {
        sh("cd \(shellQuote(dir)) && tar --sort=name -cf - tree | sha256sum").out
    }

    /// Writes the tree of the issue's test: every node type, modes, owners, times, xattrs.
    func writeTree(_ root: String) -> (status: Int32, out: String, err: String) {
        let t = shellQuote(root + "/tree")
        return sh("""
            set -e
            mkdir -p \(t)/a/b \(t)/empty
            echo hello > \(t)/target; chmod 600 \(t)/target; chown 1234:5678 \(t)/target
            ln -s target \(t)/link; ln -s ../target \(t)/a/up; ln -s /nowhere/at/all \(t)/a/b/dangling
            mkfifo -m 640 \(t)/a/fifo
            mknod -m 600 \(t)/a/null c 1 3; mknod -m 660 \(t)/a/b/loop b 7 0
            /usr/bin/python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.bind('\(root)/tree/a/sock')"
            head -c 100000 /dev/urandom > \(t)/a/b/data; chmod 751 \(t)/a/b/data
            setfattr -n user.color -v blue \(t)/target; setfattr -n user.n -v 0x00ff10 \(t)/a/b/data
            setfattr -n user.dir -v yes \(t)/a
            chmod 1777 \(t)/a/b; chmod 2750 \(t)/empty; chown 42:43 \(t)/a
            touch -h -d @1300000000.5 \(t)/link; touch -d @1200000000 \(t)/target \(t)/a/fifo
            touch -d @1100000000 \(t)/a/b \(t)/a
            """)
    }

    func testTreeSurvivesRemountAndS3fsReadsIt() async throws {
        try await forEachServerBucket("tree") { server, c, bucket in
            let m = MountFixture(server: server)
            try m.mount(bucket)
            defer { m.unmount() }
            let w = writeTree(m.mountpoint)
            XCTAssertEqual(w.status, 0, "[\(server.name)] \(w.err)")
            let before = (inventory(m.mountpoint), xattrs(m.mountpoint), tarDigest(m.mountpoint))
            XCTAssertTrue(before.0.contains("./tree/a/null c 600 0 0"), before.0)
            XCTAssertTrue(before.0.contains("./tree/a/null 1:3"), before.0)
            XCTAssertTrue(before.0.contains("./tree/a/b/loop b 660"), before.0)
            XCTAssertTrue(before.0.contains("./tree/a/sock s "), before.0)
            XCTAssertTrue(before.0.contains("./tree/a d 755 42 43 1100000000"), before.0)
            XCTAssertTrue(before.1.contains("user.color=\"blue\""), before.1)
            // The kernel opens a fifo of the mount for local processes by itself.
            XCTAssertEqual(sh("(echo through > \(shellQuote(m.path("tree/a/fifo"))) &) ; cat \(shellQuote(m.path("tree/a/fifo")))").out, "through\n")
            XCTAssertEqual(sh("head -c 4 \(shellQuote(m.path("tree/a/null"))) | wc -c").out, "0\n")
            m.unmount()

            // A fresh mount: the listing (readdirplus, no lookups) shows the same.
            try m.mount(bucket)
            XCTAssertEqual(inventory(m.mountpoint), before.0, "[\(server.name)] find -printf after a remount")
            XCTAssertEqual(xattrs(m.mountpoint), before.1, "[\(server.name)] getfattr -d after a remount")
            XCTAssertEqual(tarDigest(m.mountpoint), before.2, "[\(server.name)] tar cf after a remount")
            XCTAssertEqual(sh("find \(shellQuote(m.path("tree"))) -type l | sort").out.split(separator: "\n").count, 3)
            XCTAssertEqual(sh("cat \(shellQuote(m.path("tree/link")))").out, "hello\n")
            // The record is not a name in the mount.
            XCTAssertFalse(sh("ls -a \(shellQuote(m.path("tree")))").out.contains(".bucketfs-metadata"))
            XCTAssertNotEqual(sh("touch \(shellQuote(m.path("tree/.bucketfs-metadata")))").status, 0)
            // chmod, chown, touch, rename of special files keep their type.
            let p = { (s: String) in shellQuote(m.path("tree/a/" + s)) }
            let r = sh("chmod 604 \(p("null")) && chown 7:8 \(p("fifo")) && touch -d @1000000000 \(p("sock")) && mv \(p("null")) \(p("null2"))")
            XCTAssertEqual(r.status, 0, r.err)
            let changed = inventory(m.path("tree/a"))
            m.unmount()
            try m.mount(bucket)
            XCTAssertEqual(inventory(m.path("tree/a")), changed, "[\(server.name)] changes to special files after a remount")
            XCTAssertTrue(changed.contains("./null2 c 604 0 0") && changed.contains("./null2 1:3"), changed)
            XCTAssertTrue(changed.contains("./fifo p 640 7 8"), changed)
            XCTAssertTrue(changed.contains("./sock s 755 0 0 1000000000"), changed)
            m.unmount()

            // s3fs (Debian's) reads the same types, modes and targets.
            guard sh("command -v s3fs").status == 0 else { return XCTFail("s3fs is not installed") }
            let s3 = MountFixture(server: server, name: "s3fs")
            // Keys from the environment: a passwd file cannot hold Swift's `account:user` key.
            let keys = "AWSACCESSKEYID=\(shellQuote(server.credentials.accessKey)) AWSSECRETACCESSKEY=\(shellQuote(server.credentials.secretKey))"
            let s3opts = "url=\(server.endpoint.urlString),use_path_request_style,endpoint=\(server.endpoint.region)"
            let mounted = sh("\(keys) s3fs \(bucket) \(shellQuote(s3.mountpoint)) -o \(s3opts)")
            XCTAssertEqual(mounted.status, 0, mounted.err)
            s3.mounted = true
            defer { s3.unmount() }
            let up = await waitFor(10) { sh("mountpoint -q \(shellQuote(s3.mountpoint))").status == 0 }
            XCTAssertTrue(up)
            let types = "find . -mindepth 1 \\! -type d \\! -name .bucketfs-metadata -printf '%p %y %m %l\\n' | sort"
            try m.mount(bucket)
            let expected = sh("cd \(shellQuote(m.mountpoint)) && \(types)").out
            let theirs = sh("cd \(shellQuote(s3.mountpoint)) && \(types)").out
            XCTAssertEqual(theirs, expected, "[\(server.name)] s3fs reads what bucketfs wrote")
            XCTAssertTrue(expected.contains("./tree/link l 777 target"), expected)
        }
    }

    /// Part 3 of POSIX fidelity, each rule run as an unprivileged user through allow_other.
    func testPermissionRulesForAnotherUser() async throws {
        try await forEachServerBucket("perm") { server, c, bucket in
            try await c.putObject(bucket, key: "prefix-only/x", body: ByteBuffer(string: "x"))
            let m = MountFixture(server: server)
            try m.mount(bucket, options: "allow_other")
            defer { m.unmount() }
            let p = { (s: String) in shellQuote(m.path(s)) }
            var r = sh("""
                set -e
                mkdir -m 1777 \(p("sticky")); echo root > \(p("sticky/roots")); chmod 666 \(p("sticky/roots"))
                mkdir -m 777 \(p("open")); mkdir \(p("open/full")); echo x > \(p("open/full/f")); echo f > \(p("open/file"))
                chmod 777 \(p("open/full")); chmod 666 \(p("open/file"))
                echo s > \(p("open/suid")); chmod 6777 \(p("open/suid"))
                echo s > \(p("chowned")); chmod 4755 \(p("chowned")); chown 1234 \(p("chowned"))
                """)
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(sh("stat -c %a \(p("chowned"))").out, "755\n", "[\(server.name)] chown clears set-user-ID")
            let program = """
                import errno, os, socket
                m = \(String(reflecting: m.mountpoint))
                def err(f):
                    try:
                        f(); return "ok"
                    except OSError as e:
                        return errno.errorcode[e.errno]
                out = []
                # Sticky directory: others' entries cannot be removed or renamed; one's own can.
                out.append("rm-other=" + err(lambda: os.unlink(m + "/sticky/roots")))
                out.append("mv-other=" + err(lambda: os.rename(m + "/sticky/roots", m + "/sticky/mine2")))
                open(m + "/sticky/mine", "w").write("n")
                out.append("mv-own=" + err(lambda: os.rename(m + "/sticky/mine", m + "/sticky/mine2")))
                out.append("rm-own=" + err(lambda: os.unlink(m + "/sticky/mine2")))
                # A write by a non-owner clears set-user-ID and set-group-ID.
                with open(m + "/open/suid", "a") as f: f.write("more")
                out.append("suid=%o" % (os.stat(m + "/open/suid").st_mode & 0o7777))
                # Existing names of every kind, also one that exists only as a prefix, and one made just now.
                os.mkdir(m + "/open/new")
                for name in ["file", "full", "new", "../prefix-only"]:
                    path = m + "/open/" + name
                    out.append(name + ":" + ",".join([err(lambda: os.mkdir(path)),
                        err(lambda: os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))),
                        err(lambda: os.symlink("t", path)), err(lambda: os.mkfifo(path))]))
                out.append("mv-dir-onto-full=" + err(lambda: os.rename(m + "/open/new", m + "/open/full")))
                out.append("mv-file-onto-dir=" + err(lambda: os.rename(m + "/open/file", m + "/open/new")))
                out.append("mv-dir-onto-file=" + err(lambda: os.rename(m + "/open/new", m + "/open/file")))
                out.append("rmdir-file=" + err(lambda: os.rmdir(m + "/open/file")))
                out.append("unlink-dir=" + err(lambda: os.unlink(m + "/open/new")))
                out.append("rmdir-full=" + err(lambda: os.rmdir(m + "/open/full")))
                out.append("link=" + err(lambda: os.link(m + "/open/file", m + "/open/hard")))
                out.append("nlink=%d" % os.stat(m + "/open/full").st_nlink)
                print(" ".join(out))
                """
            let script = m.stagingDir + ".py"
            try program.write(toFile: script, atomically: true, encoding: .utf8)
            chmod(script, 0o644)
            defer { unlink(script) }
            let expected = "rm-other=EPERM mv-other=EPERM mv-own=ok rm-own=ok suid=777 "
                + "file:EEXIST,EEXIST,EEXIST,EEXIST full:EEXIST,EEXIST,EEXIST,EEXIST new:EEXIST,EEXIST,EEXIST,EEXIST "
                + "../prefix-only:EEXIST,EEXIST,EEXIST,EEXIST mv-dir-onto-full=ENOTEMPTY mv-file-onto-dir=EISDIR "
                + "mv-dir-onto-file=ENOTDIR rmdir-file=ENOTDIR unlink-dir=EISDIR rmdir-full=ENOTEMPTY link=EPERM nlink=1\n"
            // The system interpreter: one from a per-user install (pyenv) may not be open to others.
            r = sh("\(nobody) /usr/bin/python3 \(shellQuote(script))")
            XCTAssertEqual(r.out, expected, "[\(server.name)] \(r.err)")
            // The sticky bit and modes hold after a remount too.
            m.unmount()
            try m.mount(bucket, options: "allow_other")
            r = sh("\(nobody) rm -f \(p("sticky/roots"))")
            XCTAssertTrue(r.err.contains("Operation not permitted"), "[\(server.name)] \(r.err)")
            XCTAssertEqual(sh("stat -c %a \(p("sticky")) \(p("open/suid"))").out, "1777\n777\n")
        }
    }

    /// After `mv dir`, `rm -rf` and `rmdir`, nothing of the old names is listed: by this mount,
    /// by a fresh mount, or by the S3 API with a delimiter.
    func testRemovedTreesLeaveNoGhosts() async throws {
        try await forEachServerBucket("ghosts") { server, c, bucket in
            let m = MountFixture(server: server)
            try m.mount(bucket)
            defer { m.unmount() }
            let p = { (s: String) in shellQuote(m.path(s)) }
            let made = sh("mkdir -p \(p("top/d1/x/y")) \(p("top/gone/a/b")) \(p("top/empty")) && echo a > \(p("top/d1/x/f")) "
                          + "&& echo b > \(p("top/d1/x/y/g")) && echo c > \(p("top/gone/a/b/h")) && ln -s h \(p("top/gone/a/l"))")
            XCTAssertEqual(made.status, 0, made.err)
            func listings(_ step: String, expect: [String]) async throws {
                let mine = sh("ls \(p("top"))").out.split(separator: "\n").map(String.init)
                XCTAssertEqual(mine, expect, "[\(server.name)] this mount after \(step)")
                let fresh = MountFixture(server: server, name: "fresh")
                try fresh.mount(bucket, options: "ro")
                let theirs = sh("ls \(shellQuote(fresh.path("top")))").out.split(separator: "\n").map(String.init)
                fresh.unmount()
                XCTAssertEqual(theirs, expect, "[\(server.name)] a fresh mount after \(step)")
                let page = try await c.listObjects(bucket, ListObjectsRequest(prefix: "top/", delimiter: "/"))
                let api = page.commonPrefixes.map { String($0.dropFirst(4).dropLast()) }
                    + page.objects.map { String($0.key.dropFirst(4)) }.filter { !$0.isEmpty && $0 != ".bucketfs-metadata" }
                XCTAssertEqual(api.sorted(), expect, "[\(server.name)] list-objects-v2 --delimiter / after \(step)")
            }
            XCTAssertEqual(sh("mv \(p("top/d1")) \(p("top/d2"))").status, 0)
            try await listings("mv", expect: ["d2", "empty", "gone"])
            XCTAssertEqual(sh("cat \(p("top/d2/x/y/g"))").out, "b\n")
            XCTAssertEqual(sh("rm -rf \(p("top/gone"))").status, 0)
            try await listings("rm -rf", expect: ["d2", "empty"])
            XCTAssertEqual(sh("rmdir \(p("top/empty"))").status, 0)
            try await listings("rmdir", expect: ["d2"])
            XCTAssertEqual(sh("rm -rf \(p("top/d2"))").status, 0)
            try await listings("rm -rf of the renamed tree", expect: [])
        }
    }

    /// Close-to-open: an open that starts after another client stored a file reads the new
    /// content, from a second mount and after an external PUT.
    func testOpenSeesWhatAnotherClientStored() async throws {
        try await forEachServerBucket("c2o") { server, c, bucket in
            let a = MountFixture(server: server, name: "a")
            let b = MountFixture(server: server, name: "b")
            try a.mount(bucket)
            defer { a.unmount() }
            try b.mount(bucket)
            defer { b.unmount() }
            let (pa, pb) = (shellQuote(a.path("f")), shellQuote(b.path("f")))
            XCTAssertEqual(sh("echo one > \(pa)").status, 0)
            XCTAssertEqual(sh("cat \(pb)").out, "one\n")
            usleep(1_100_000)
            XCTAssertEqual(sh("echo second version > \(pa)").status, 0)
            XCTAssertEqual(sh("cat \(pb)").out, "second version\n", "[\(server.name)] second mount, after the writer's close")
            usleep(1_100_000)
            try await c.putObject(bucket, key: "f", body: ByteBuffer(string: "3\n"))
            XCTAssertEqual(sh("cat \(pb)").out, "3\n", "[\(server.name)] after an external PUT")
            XCTAssertEqual(sh("stat -c %s \(pb)").out, "2\n")
            usleep(1_100_000)
            try await c.deleteObject(bucket, key: "f")
            XCTAssertTrue(sh("cat \(pb)").err.contains("No such file"), "[\(server.name)] after an external DELETE")
        }
    }

    /// Metadata another client changed is shown, not the record's: the record only vouches for
    /// the version it saw.
    func testRecordNeverHidesAnotherWritersChange() async throws {
        try await forEachServerBucket("record") { server, c, bucket in
            let m = MountFixture(server: server)
            try m.mount(bucket)
            let p = { (s: String) in shellQuote(m.path(s)) }
            XCTAssertEqual(sh("mkdir \(p("d")) && echo a > \(p("d/replaced")) && echo b > \(p("d/rechmod")) && echo c > \(p("d/kept")) "
                              + "&& chmod 600 \(p("d/replaced")) \(p("d/rechmod")) \(p("d/kept"))").status, 0)
            m.unmount()
            usleep(1_100_000)
            // Another client: a new body without metadata, and a copy onto itself with other metadata.
            try await c.putObject(bucket, key: "d/replaced", body: ByteBuffer(string: "new\n"))
            _ = try await c.copyObject(from: bucket, key: "d/rechmod", to: bucket, key: "d/rechmod", directive: .replace,
                                       metadata: ["mode": String(0o100640), "uid": "0", "gid": "0", "mtime": "1000000000"])
            try m.mount(bucket)
            defer { m.unmount() }
            let r = sh("cd \(p("d")) && stat -c '%n %a %Y' *")
            XCTAssertTrue(r.out.contains("kept 600"), r.out)
            XCTAssertTrue(r.out.contains("replaced 644"), "[\(server.name)] \(r.out)")
            XCTAssertTrue(r.out.contains("rechmod 640 1000000000"), "[\(server.name)] \(r.out)")
        }
    }
}
