import Foundation
import NIOCore
import S3
import TestSupport
import XCTest

/// Runs a shell command; answers its status and output. Uses posix_spawn and waitpid with
/// output in temporary files (no pipes to wedge, no run loop), and kills the command after `timeout`.
@discardableResult
func sh(_ command: String, timeout: Double = 120) -> (status: Int32, out: String, err: String) {
    let base = NSTemporaryDirectory() + "bfs-sh-\(UInt32.random(in: 0...UInt32.max))"
    let outPath = base + ".out", errPath = base + ".err"
    defer { unlink(outPath); unlink(errPath) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv = ["/bin/sh", "-c", command]
    var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    defer { cargs.forEach { free($0) } }
    var attr = cleanSpawnAttributes()
    defer { posix_spawnattr_destroy(&attr) }
    var pid = pid_t()
    guard posix_spawn(&pid, "/bin/sh", &actions, &attr, &cargs, environ) == 0 else { return (127, "", "spawn failed") }
    var status: Int32 = 0
    let deadline = Date().addingTimeInterval(timeout)
    while waitpid(pid, &status, WNOHANG) == 0 {
        if Date() > deadline { kill(pid, SIGKILL); waitpid(pid, &status, 0); break }
        usleep(5_000)
    }
    let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    return (code, out, err)
}

/// Starts a shell command in the background (output discarded); answers its pid.
func spawnBackground(_ command: String) -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv: [String] = ["/bin/sh", "-c", command]
    var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    defer { cargs.forEach { free($0) } }
    var attr = cleanSpawnAttributes()
    defer { posix_spawnattr_destroy(&attr) }
    var pid = pid_t()
    return posix_spawn(&pid, "/bin/sh", &actions, &attr, &cargs, environ) == 0 ? pid : -1
}

/// Children start with no blocked signals and default handlers, whatever the test runner's
/// threads have blocked (a shell whose SIGCHLD is blocked never reaps its jobs).
func cleanSpawnAttributes() -> posix_spawnattr_t {
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attr, &empty)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for s in [SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGUSR2] { sigaddset(&defaults, s) }
    posix_spawnattr_setsigdefault(&attr, &defaults)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    return attr
}

/// Waits for a child's exit status (up to `timeout`); -1 when it did not end.
func waitExit(_ pid: pid_t, timeout: Double = 30) -> Int32 {
    var status: Int32 = 0
    let deadline = Date().addingTimeInterval(timeout)
    while waitpid(pid, &status, WNOHANG) == 0 {
        if Date() > deadline { return -1 }
        usleep(10_000)
    }
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}

func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// A real mount of a test bucket through the `bucketfs` binary, unmounted on teardown even when
/// the test fails.
final class MountFixture {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static var binary: String { ProcessInfo.processInfo.environment["BUCKETFS_BIN"] ?? packageRoot + "/.build/debug/bucketfs" }
    static var runDir: String { ProcessInfo.processInfo.environment["BUCKETFS_TEST_RUN_DIR"] ?? NSTemporaryDirectory() }

    let server: TestServer
    let mountpoint: String
    let stagingDir: String
    var mounted = false

    init(server: TestServer, name: String = "m") {
        self.server = server
        mountpoint = "\(Self.runDir)/mnt-\(name)-\(UInt32.random(in: 0...UInt32.max))"
        stagingDir = mountpoint + ".staging"
        try? FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
    }

    var environment: String {
        "AWS_ACCESS_KEY_ID=\(shellQuote(server.credentials.accessKey)) AWS_SECRET_ACCESS_KEY=\(shellQuote(server.credentials.secretKey)) "
            + "AWS_ENDPOINT_URL=\(server.endpoint.urlString) AWS_REGION=\(server.endpoint.region)"
    }

    /// Mounts `source` (`bucket` or `bucket:/prefix`) with extra `-o` options; fails the test if it cannot.
    func mount(_ source: String, options: String = "", file: StaticString = #filePath, line: UInt = #line) throws {
        // Each fixture stages writes in its own directory unless the test names one.
        let all = options.contains("staging_dir=") ? options : (options.isEmpty ? "" : options + ",") + "staging_dir=\(stagingDir)"
        let opts = " -o \(shellQuote(all))"
        let r = sh("\(environment) \(shellQuote(Self.binary)) \(shellQuote(source)) \(shellQuote(mountpoint))\(opts)", timeout: 60)
        guard r.status == 0 else {
            XCTFail("mount failed (\(r.status)): \(r.err)", file: file, line: line)
            throw XCTSkip("no mount")
        }
        mounted = true
    }

    func unmount() {
        guard mounted else { return }
        var r = sh("fusermount3 -u \(shellQuote(mountpoint))")
        for _ in 0..<20 where r.status != 0 {
            usleep(200_000)
            r = sh("fusermount3 -u \(shellQuote(mountpoint))")
        }
        if r.status != 0 { sh("fusermount3 -uz \(shellQuote(mountpoint))") }
        // Wait for the daemon to go away.
        for _ in 0..<50 {
            // "[b]" keeps pgrep from matching the shell that runs it.
            if sh("pgrep -f -- \(shellQuote("[b]ucketfs .*" + mountpoint))").status != 0 { break }
            usleep(100_000)
        }
        mounted = false
    }

    func path(_ rel: String) -> String { rel.isEmpty ? mountpoint : mountpoint + "/" + rel }

    deinit {
        unmount()
        try? FileManager.default.removeItem(atPath: mountpoint)
        try? FileManager.default.removeItem(atPath: stagingDir)
    }
}

/// Deterministic pseudo-random bytes (xorshift), fast enough for large objects.
func testBytes(_ n: Int, seed: UInt64 = 0x9E3779B97F4A7C15) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: n)
    var x = seed | 1
    out.withUnsafeMutableBytes { raw in
        let words = n / 8
        let p = raw.baseAddress!.assumingMemoryBound(to: UInt64.self)
        for i in 0..<words { x ^= x << 13; x ^= x >> 7; x ^= x << 17; p[i] = x }
        for i in (words * 8)..<n { x ^= x << 13; x ^= x >> 7; x ^= x << 17; raw[i] = UInt8(truncatingIfNeeded: x) }
    }
    return out
}

/// Uploads `data` (multipart when large) with the client.
func upload(_ c: S3Client, _ bucket: String, _ key: String, _ data: [UInt8], metadata: [String: String] = [:]) async throws {
    let part = 16 << 20
    if data.count <= part {
        try await c.putObject(bucket, key: key, body: ByteBuffer(bytes: data), metadata: metadata)
        return
    }
    let id = try await c.createMultipartUpload(bucket, key: key, metadata: metadata)
    var parts: [CompletedPart] = []
    // Four parts in flight: all at once would time out on a loaded machine.
    let starts = Array(stride(from: 0, to: data.count, by: part))
    try await withThrowingTaskGroup(of: CompletedPart.self) { g in
        var next = 0
        func add() {
            guard next < starts.count else { return }
            let n = next, start = starts[n]
            next += 1
            let slice = ByteBuffer(bytes: data[start..<min(start + part, data.count)])
            g.addTask { CompletedPart(partNumber: n + 1, etag: try await c.uploadPart(bucket, key: key, uploadId: id, partNumber: n + 1, body: slice)) }
        }
        for _ in 0..<4 { add() }
        for try await p in g {
            parts.append(p)
            add()
        }
    }
    parts.sort { $0.partNumber < $1.partNumber }
    try await c.completeMultipartUpload(bucket, key: key, uploadId: id, parts: parts)
}

#if canImport(Glibc)
import Glibc
#endif

/// Polls `condition` every 200 ms for up to `seconds`; answers whether it came true.
func waitFor(_ seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(200))
    }
    return false
}

/// A free TCP port on 127.0.0.1.
func freePort() -> Int {
    Int(sh("/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])'").out
        .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
}

/// The forwarding proxy of the fault tests (scripts/tcp_proxy.py) in front of a real server:
/// killing it is "the server stopped", starting it again on the same port "the server returned".
/// `environment` goes to the proxy (SILENT_WHEN=FILE makes it a server that never answers).
final class TestProxy {
    let port = freePort()
    let target: TestServer
    let environment: String
    private(set) var pid: pid_t = -1

    init(_ target: TestServer, environment: String = "") {
        self.target = target
        self.environment = environment
    }

    /// The server as seen through the proxy.
    var server: TestServer {
        var s = target
        s.endpoint = (try? S3Endpoint(url: "http://127.0.0.1:\(port)", region: target.endpoint.region)) ?? target.endpoint
        return s
    }

    /// Starts the proxy and waits until it listens; answers whether it does.
    @discardableResult
    func start() -> Bool {
        pid = spawnBackground("\(environment) exec /usr/bin/python3 \(shellQuote(MountFixture.packageRoot + "/scripts/tcp_proxy.py")) \(port) \(target.endpoint.port ?? 80)")
        for _ in 0..<100 {
            if sh("/usr/bin/python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", \(port)))'").status == 0 { return true }
            usleep(100_000)
        }
        return false
    }

    /// Kills the proxy: the server is gone for the mount.
    func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        _ = waitExit(pid, timeout: 5)
        pid = -1
    }

    deinit { stop() }
}
