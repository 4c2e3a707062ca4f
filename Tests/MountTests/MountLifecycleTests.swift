import Foundation
import NIOCore
import S3
import TestSupport
import XCTest

/// Starting and stopping: bad input gives one clear line and a non-zero exit; SIGTERM and
/// fusermount3 -u end a mount cleanly.
final class MountLifecycleTests: XCTestCase {
    func testBadInputFailsFast() async throws {
        guard let server = try TestServer.all().first else { return }
        let m = MountFixture(server: server, name: "bad")
        let bin = shellQuote(MountFixture.binary)
        func run(_ args: String, env: String? = nil) -> (Int32, String) {
            let r = sh("\(env ?? m.environment) \(bin) \(args)", timeout: 30)
            return (r.status, r.err)
        }
        var (code, err) = run("nosuchbucket-\(UInt32.random(in: 0...UInt32.max)) \(m.mountpoint)")
        XCTAssertEqual(code, 3)
        XCTAssertTrue(err.contains("does not exist"), err)
        (code, err) = run("demo \(m.mountpoint)-missing")
        XCTAssertEqual(code, 64)
        XCTAssertTrue(err.contains("does not exist"), err)
        (code, err) = run("demo \(m.mountpoint) -o no_such_option")
        XCTAssertNotEqual(code, 0)
        XCTAssertTrue(err.contains("unknown option"), err)
        (code, err) = run("Bad_Bucket \(m.mountpoint)")
        XCTAssertNotEqual(code, 0)
        XCTAssertTrue(err.contains("invalid bucket name"), err)
        (code, err) = run("demo \(m.mountpoint) -o url=http://127.0.0.1:1")
        XCTAssertEqual(code, 4)
        XCTAssertTrue(err.contains("cannot reach"), err)
        let wrong = "AWS_ACCESS_KEY_ID=\(shellQuote(server.credentials.accessKey)) AWS_SECRET_ACCESS_KEY=wrong-secret-value AWS_ENDPOINT_URL=\(server.endpoint.urlString) AWS_REGION=\(server.endpoint.region)"
        let c = try server.client()
        let bucket = uniqueBucket("badkeys")
        try await c.createBucket(bucket, locationConstraint: server.isSwift ? "KR1" : nil)
        (code, err) = run("\(bucket) \(m.mountpoint)", env: wrong)
        XCTAssertEqual(code, 2, err)
        XCTAssertFalse(err.contains("wrong-secret-value"), "a secret in an error message")
        // A credentials file others can read is refused.
        let pw = "\(MountFixture.runDir)/pw-\(UInt32.random(in: 0...UInt32.max))"
        try "\(server.credentials.accessKey):\(server.credentials.secretKey)\n".write(toFile: pw, atomically: true, encoding: .utf8)
        chmod(pw, 0o644)
        (code, err) = run("\(bucket) \(m.mountpoint) -o passwd_file=\(pw)", env: "AWS_ENDPOINT_URL=\(server.endpoint.urlString) AWS_REGION=\(server.endpoint.region)")
        XCTAssertEqual(code, 2)
        XCTAssertTrue(err.contains("chmod 600"), err)
        chmod(pw, 0o600)
        (code, err) = run("\(bucket) \(m.mountpoint) -o passwd_file=\(pw)", env: "AWS_ENDPOINT_URL=\(server.endpoint.urlString) AWS_REGION=\(server.endpoint.region)")
        XCTAssertEqual(code, 0, err)
        m.mounted = code == 0
        m.unmount()
        // A non-empty mount point.
        _ = FileManager.default.createFile(atPath: m.mountpoint + "/occupied", contents: Data())
        (code, err) = run("\(bucket) \(m.mountpoint)")
        XCTAssertEqual(code, 64)
        XCTAssertTrue(err.contains("not empty"), err)
        try? FileManager.default.removeItem(atPath: m.mountpoint + "/occupied")
        await destroyBucket(c, bucket)
        try await c.shutdown()
    }

    func testSigtermUnmountsCleanly() async throws {
        guard let server = try TestServer.all().first else { return }
        let c = try server.client()
        let bucket = uniqueBucket("sig")
        try await c.createBucket(bucket, locationConstraint: server.isSwift ? "KR1" : nil)
        try await c.putObject(bucket, key: "f", body: ByteBuffer(string: "data"))
        let m = MountFixture(server: server, name: "sig")
        let pid = spawnBackground("exec env \(m.environment) \(shellQuote(MountFixture.binary)) \(bucket) \(m.mountpoint) -f")
        var live = false
        for _ in 0..<100 {
            if sh("grep -q \(shellQuote(m.mountpoint)) /proc/mounts").status == 0 && sh("cat \(m.mountpoint)/f").out == "data" { live = true; break }
            usleep(100_000)
        }
        XCTAssertTrue(live, "mount did not come up")
        m.mounted = live
        kill(pid, SIGTERM)
        XCTAssertEqual(waitExit(pid), 0, "exit status after SIGTERM")
        XCTAssertNotEqual(sh("grep -q \(shellQuote(m.mountpoint)) /proc/mounts").status, 0, "still mounted after SIGTERM")
        m.mounted = false
        await destroyBucket(c, bucket)
        try await c.shutdown()
    }
}

/// systemd's `Type=notify`: a harness plays the service manager (a unix datagram socket in
/// `NOTIFY_SOCKET`) and checks, as each message arrives, whether the mount answers.
final class SystemdNotifyTests: XCTestCase {
    func testReadyArrivesOnlyOnceTheMountServes() async throws {
        guard let server = try TestServer.all().first else { return }
        let c = try server.client()
        let bucket = uniqueBucket("notify")
        try await c.createBucket(bucket, locationConstraint: server.isSwift ? "KR1" : nil)
        try await c.putObject(bucket, key: "f", body: ByteBuffer(string: "data"))
        let m = MountFixture(server: server, name: "notify")
        let dir = MountFixture.runDir + "/notify-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let harness = """
            import os, socket, sys
            sock_path, mountpoint, out_path = sys.argv[1:4]
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sock_path)
            out = open(out_path, "w"); out.write("listening\\n"); out.flush()
            while True:
                msg = s.recv(4096).decode()
                try:
                    served = os.path.ismount(mountpoint) and open(os.path.join(mountpoint, "f")).read() == "data"
                except OSError:
                    served = False
                out.write(msg.replace("\\n", " ") + " | served=" + str(served) + "\\n"); out.flush()
                if "STOPPING=1" in msg: break
            """
        try harness.write(toFile: dir + "/harness.py", atomically: true, encoding: .utf8)
        let manager = spawnBackground("exec /usr/bin/python3 \(shellQuote(dir + "/harness.py")) \(shellQuote(dir + "/notify.sock")) \(shellQuote(m.mountpoint)) \(shellQuote(dir + "/messages"))")
        defer { kill(manager, SIGKILL); _ = waitExit(manager, timeout: 5) }
        func messages() -> String { (try? String(contentsOfFile: dir + "/messages", encoding: .utf8)) ?? "" }
        for _ in 0..<50 where !messages().contains("listening") { usleep(100_000) }
        let pid = spawnBackground("exec env NOTIFY_SOCKET=\(shellQuote(dir + "/notify.sock")) \(m.environment) \(shellQuote(MountFixture.binary)) \(bucket) \(m.mountpoint) -f")
        m.mounted = true
        var ready = false
        for _ in 0..<150 where !ready { ready = messages().contains("READY=1"); if !ready { usleep(100_000) } }
        XCTAssertTrue(ready, messages())
        XCTAssertTrue(messages().contains("READY=1 STATUS=serving \(bucket) on \(m.mountpoint) | served=True"), messages())
        kill(pid, SIGTERM)
        XCTAssertEqual(waitExit(pid), 0)
        m.mounted = false
        for _ in 0..<50 where !messages().contains("STOPPING=1") { usleep(100_000) }
        XCTAssertTrue(messages().contains("STOPPING=1"), messages())
        await destroyBucket(c, bucket)
        try await c.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

/// mount(8) and fstab: through mount.fuse3, which finds `bucketfs` on its own PATH.
final class MountCommandLineTests: XCTestCase {
    func testMountTypeAndFstabLine() async throws {
        guard let server = try TestServer.all().first else { return }
        let link = "/usr/local/bin/bucketfs"
        var made = false
        if !FileManager.default.fileExists(atPath: link) {
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: MountFixture.binary)
            made = true
        }
        defer { if made { unlink(link) } }
        let c = try server.client()
        let bucket = uniqueBucket("fstab")
        try await c.createBucket(bucket, locationConstraint: server.isSwift ? "KR1" : nil)
        try await c.putObject(bucket, key: "sub/f", body: ByteBuffer(string: "via mount"))
        let m = MountFixture(server: server, name: "mt")
        var r = sh("\(m.environment) mount -t fuse.bucketfs \(bucket) \(m.mountpoint) -o url=\(server.endpoint.urlString),_netdev,ro")
        XCTAssertEqual(r.status, 0, r.err)
        m.mounted = r.status == 0
        XCTAssertEqual(sh("cat \(m.path("sub/f"))").out, "via mount")
        XCTAssertTrue(sh("grep \(shellQuote(m.mountpoint)) /proc/mounts").out.contains("fuse.bucketfs ro"))
        XCTAssertEqual(sh("umount \(m.mountpoint)").status, 0)
        m.mounted = false
        // An fstab line with a prefix and a passwd file, mounted by its mount point.
        let pw = "\(MountFixture.runDir)/fstab-pw-\(UInt32.random(in: 0...UInt32.max))"
        try "\(bucket):\(server.credentials.accessKey):\(server.credentials.secretKey)\n".write(toFile: pw, atomically: true, encoding: .utf8)
        chmod(pw, 0o600)
        let fstab = "\(MountFixture.runDir)/fstab-\(UInt32.random(in: 0...UInt32.max))"
        try "\(bucket):/sub \(m.mountpoint) fuse.bucketfs _netdev,allow_other,url=\(server.endpoint.urlString),region=\(server.endpoint.region),passwd_file=\(pw) 0 0\n"
            .write(toFile: fstab, atomically: true, encoding: .utf8)
        r = sh("env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY mount -T \(fstab) \(m.mountpoint)")
        XCTAssertEqual(r.status, 0, r.err)
        m.mounted = r.status == 0
        XCTAssertEqual(sh("cat \(m.path("f"))").out, "via mount")
        m.unmount()
        unlink(pw)
        unlink(fstab)
        await destroyBucket(c, bucket)
        try await c.shutdown()
    }
}
