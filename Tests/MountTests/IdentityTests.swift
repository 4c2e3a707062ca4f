import Foundation
import NIOCore
import S3
import TestSupport
import XCTest
@testable import BucketFSCLI

/// `bucketfs credentials` end to end against a stand-in identity service that implements the
/// documented contract (scripts/fake_identity.py), then a mount that reads the saved profile.
final class IdentityTests: XCTestCase {
    var home = ""
    var identity = ""
    var pid: pid_t = -1

    func start(server: TestServer) throws {
        home = "\(MountFixture.runDir)/home-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let portFile = home + "/port"
        pid = spawnBackground("FAKE_IDENTITY_AGENTS=\(shellQuote(home + "/agents")) FAKE_IDENTITY_DELAY=2 FAKE_EC2_ACCESS=\(shellQuote(server.credentials.accessKey)) "
            + "FAKE_EC2_SECRET=\(shellQuote(server.credentials.secretKey)) exec /usr/bin/python3 "
            + "\(shellQuote(MountFixture.packageRoot + "/scripts/fake_identity.py")) > \(shellQuote(portFile))")
        for _ in 0..<100 {
            if let p = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(p.trimmingCharacters(in: .whitespacesAndNewlines)) {
                identity = "http://127.0.0.1:\(port)"
                return
            }
            usleep(50_000)
        }
        XCTFail("fake identity service did not start")
    }

    override func tearDown() {
        if pid > 0 { kill(pid, SIGKILL); _ = waitExit(pid, timeout: 5) }
        try? FileManager.default.removeItem(atPath: home)
    }

    /// Runs `bucketfs credentials ...` with a private HOME and no AWS keys in the environment.
    func cred(_ args: String, password: String? = "pw") -> (status: Int32, out: String, err: String) {
        let pw = password.map { "BUCKETFS_PASSWORD=\(shellQuote($0)) " } ?? ""
        return sh("env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY HOME=\(shellQuote(home)) \(pw)"
            + "\(shellQuote(MountFixture.binary)) credentials \(args) --identity-url \(identity)", timeout: 30)
    }

    func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int) ?? -1
    }

    /// No identity URL at all is bad usage (64), said in one line; `--preset kr1` supplies the
    /// service's, and an explicit URL still wins over it. (No request leaves the machine.)
    func testIdentityURLFromPresetOrUsageError() throws {
        home = "\(MountFixture.runDir)/home-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let r = sh("env -u BUCKETFS_IDENTITY_URL -u OS_AUTH_URL HOME=\(shellQuote(home)) BUCKETFS_PASSWORD=pw "
            + "\(shellQuote(MountFixture.binary)) credentials login --tenant-id t --username u", timeout: 30)
        XCTAssertEqual(r.status, 64, r.err)
        XCTAssertTrue(r.err.contains("no identity URL"), r.err)
        XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
        unsetenv("BUCKETFS_IDENTITY_URL")
        unsetenv("OS_AUTH_URL")
        XCTAssertEqual(try IdentityOptions.parse(["--preset", "kr1"]).resolveURL(saved: nil),
                       "https://api-compute.cloud.toast.com/identity")
        XCTAssertEqual(try IdentityOptions.parse(["--preset", "KR1", "--identity-url", "http://127.0.0.1:1"]).resolveURL(saved: nil),
                       "http://127.0.0.1:1")
        XCTAssertThrowsError(try IdentityOptions.parse(["--preset", "us1"]))
    }

    func testLoginCreateListDeleteThenMount() async throws {
        guard let server = try TestServer.all().first(where: { !$0.isSwift }) ?? TestServer.all().first else { return }
        try start(server: server)

        var r = cred("login --tenant-id tenant-1 --username user@example.com", password: "wrong")
        XCTAssertEqual(r.status, 10, r.err)
        XCTAssertTrue(r.err.contains("401"), r.err)
        XCTAssertFalse(r.err.contains("wrong"), "the password must not be echoed")

        r = cred("login --tenant-id tenant-1 --username user@example.com")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("4f1c9a2e-0000-4000-8000-000000000001"), r.out)
        // Identity requests carry the same User-Agent as S3 requests: bucketfs/VERSION, VERSION
        // being what `bucketfs --version` prints.
        let version = sh("\(shellQuote(MountFixture.binary)) --version").out.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertFalse(version.isEmpty)
        let agents = Set(((try? String(contentsOfFile: home + "/agents", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init))
        XCTAssertEqual(agents, ["bucketfs/\(version)"])
        let tokenFile = home + "/.config/bucketfs/token"
        XCTAssertEqual(mode(tokenFile), 0o600)
        let token = (try? String(contentsOfFile: tokenFile, encoding: .utf8)) ?? ""
        XCTAssertFalse(token.isEmpty)

        r = cred("create --profile work --endpoint \(server.endpoint.urlString) --region \(server.endpoint.region)")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertFalse(r.out.contains(server.credentials.secretKey), "secret printed without --show-secret")
        let credFile = home + "/.config/bucketfs/credentials"
        XCTAssertEqual(mode(credFile), 0o600)
        let ini = try IniFile(text: String(contentsOfFile: credFile, encoding: .utf8))
        XCTAssertEqual(ini["work"]?["access"], server.credentials.accessKey)
        XCTAssertEqual(ini["work"]?["tenant_id"], "tenant-1")

        r = cred("create --profile work")
        XCTAssertNotEqual(r.status, 0, "an existing profile is not clobbered")
        r = cred("create --profile second --tenant-id tenant-list-shape --show-secret")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("secret: "), "the guide's list-shaped answer is accepted")
        let ini2 = try IniFile(text: String(contentsOfFile: credFile, encoding: .utf8))
        XCTAssertEqual(ini2["work"]?["access"], server.credentials.accessKey, "other profiles survive")
        let secondAccess = ini2["second"]?["access"] ?? ""

        r = cred("list")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains(server.credentials.accessKey) && r.out.contains(secondAccess))
        XCTAssertFalse(r.out.contains(server.credentials.secretKey), "secrets masked")
        XCTAssertTrue(r.out.contains("****"))

        r = cred("delete no-such-access")
        XCTAssertEqual(r.status, 12, r.err)
        r = cred("delete \(secondAccess) --remove-profile")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertNil(try IniFile(text: String(contentsOfFile: credFile, encoding: .utf8))["second"])

        // A slow answer still arrives; an unreachable service is a clear error.
        r = cred("login --tenant-id tenant-1 --username slow@example.com")
        XCTAssertEqual(r.status, 0, r.err)
        r = sh("HOME=\(shellQuote(home)) BUCKETFS_PASSWORD=pw \(shellQuote(MountFixture.binary)) credentials login --tenant-id tenant-1 --username user@example.com --identity-url http://127.0.0.1:1")
        XCTAssertEqual(r.status, 4, r.err)

        // The whole path: the saved profile mounts the bucket.
        let c = try server.client()
        let bucket = uniqueBucket("ident")
        try await c.createBucket(bucket, locationConstraint: server.isSwift ? "KR1" : nil)
        try await c.putObject(bucket, key: "from-profile.txt", body: ByteBuffer(string: "ok"))
        let m = MountFixture(server: server, name: "ident")
        r = sh("env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_ENDPOINT_URL HOME=\(shellQuote(home)) "
            + "\(shellQuote(MountFixture.binary)) \(bucket) \(m.mountpoint) -o profile=work", timeout: 30)
        XCTAssertEqual(r.status, 0, r.err)
        m.mounted = r.status == 0
        XCTAssertEqual(sh("cat \(m.path("from-profile.txt"))").out, "ok")
        m.unmount()

        // A token the service no longer knows: 401 with its own exit code.
        try token.replacingOccurrences(of: "\"token\":\"", with: "\"token\":\"x").write(toFile: tokenFile, atomically: true, encoding: .utf8)
        chmod(tokenFile, 0o600)
        r = cred("list")
        XCTAssertEqual(r.status, 10, r.err)

        await destroyBucket(c, bucket)
        try await c.shutdown()
    }
}
