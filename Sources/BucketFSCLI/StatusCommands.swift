import ArgumentParser
import Foundation
import Glibc

/// A conversation with a running mount over its control socket: one request, JSON lines back.
struct MountConnection {
    let fd: Int32
    let mountpoint: String

    /// The mount on `path` (resolved); exits 3 with one line if no mount of this user answers there.
    static func open(_ path: String) throws -> MountConnection {
        guard let real = realpath(path, nil) else {
            printError("bucketfs: \(path): \(String(cString: strerror(errno)))")
            throw ExitCode(ExitStatus.notFound.rawValue)
        }
        let mountpoint = String(cString: real)
        free(real)
        guard let fd = ControlSocket.connect(ControlSocket.path(for: mountpoint)) else {
            printError("bucketfs: no bucketfs mount of this user answers on \(mountpoint)")
            throw ExitCode(ExitStatus.notFound.rawValue)
        }
        return MountConnection(fd: fd, mountpoint: mountpoint)
    }

    func send(_ request: [String: Any]) {
        guard var data = try? JSONSerialization.data(withJSONObject: request) else { return }
        data.append(0x0a)
        _ = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// The answers, one JSON object a line, as they come; stops at the end of the stream.
    func answers(_ each: ([String: Any]) throws -> Void) throws {
        var pending: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
            if n <= 0 { break }
            pending += buf[0..<n]
            while let nl = pending.firstIndex(of: 0x0a) {
                let line = Array(pending[..<nl])
                pending.removeSubrange(...nl)
                if let o = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] { try each(o) }
            }
        }
    }

    func close() { _ = Glibc.close(fd) }
}

func humanBytes(_ n: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n), i = 0
    while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
    return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
}

/// `bucketfs status MOUNTPOINT`: what a running mount serves, holds and owes.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status",
        abstract: "Show a running mount: bucket, endpoint, options, uptime, caches, files not stored yet, last errors.")
    @Argument(help: "The mount point.") var mountpoint: String
    @Flag(help: "Emit JSON.") var json = false

    func run() throws {
        let c = try MountConnection.open(mountpoint)
        defer { c.close() }
        c.send(["command": "status"])
        var status: [String: Any] = [:]
        try c.answers { status = $0 }
        if json {
            let data = try JSONSerialization.data(withJSONObject: status, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        func int(_ o: Any?) -> Int64 { (o as? NSNumber)?.int64Value ?? 0 }
        let bucket = (status["bucket"] as? String ?? "") + ((status["prefix"] as? String).map { $0.isEmpty ? "" : ":/" + $0 } ?? "")
        print("mount:      \(c.mountpoint) (pid \(int(status["pid"])), bucketfs \(status["version"] as? String ?? "?"))")
        print("bucket:     \(bucket) at \(status["endpoint"] as? String ?? "?") (region \(status["region"] as? String ?? "?"))")
        print("options:    \((status["options"] as? String).map { $0.isEmpty ? "(defaults)" : $0 } ?? "")")
        print("uptime:     \(int(status["uptime_seconds"])) s")
        if let m = status["memory_cache"] as? [String: Any] {
            print("memory:     \(humanBytes(int(m["used_bytes"]))) of \(humanBytes(int(m["capacity_bytes"]))) cached; \(int(status["cache_hits"])) hits, \(int(status["cache_misses"])) misses")
        }
        if let d = status["disk_cache"] as? [String: Any] {
            print("disk cache: \(humanBytes(int(d["used_bytes"]))) of \(humanBytes(int(d["capacity_bytes"])))")
        }
        let unstored = status["unstored"] as? [[String: Any]] ?? []
        print("not stored: \(unstored.isEmpty ? "nothing: every closed file is in the bucket" : "\(unstored.count) file(s)")")
        for f in unstored {
            let state = (f["not_stored"] as? String).map { "never: \($0)" } ?? ((f["open"] as? Bool) == true ? "open" : "waiting")
            print("  \(f["key"] as? String ?? "?")  \(humanBytes(int(f["size"])))  \(int(f["age_seconds"])) s old  (\(state))")
        }
        let errors = status["errors"] as? [[String: Any]] ?? []
        if !errors.isEmpty {
            print("last errors:")
            for e in errors { print("  \(e["message"] as? String ?? "")") }
        }
    }
}

/// `bucketfs sync MOUNTPOINT [PATH...]`: returns once every file closed before it started is
/// stored; non-zero with the failing files otherwise.
struct SyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sync",
        abstract: "Wait until every file closed before now (under PATH, or in the whole mount) is stored in the bucket.")
    @Argument(help: "The mount point.") var mountpoint: String
    @Argument(help: "Paths inside the mount (default: all of it).") var paths: [String] = []

    func run() throws {
        let c = try MountConnection.open(mountpoint)
        defer { c.close() }
        var prefixes: [String] = []
        for p in paths {
            guard let real = realpath(p, nil) else {
                printError("bucketfs: \(p): \(String(cString: strerror(errno)))")
                throw ExitCode(ExitStatus.notFound.rawValue)
            }
            let full = String(cString: real)
            free(real)
            guard full == c.mountpoint || full.hasPrefix(c.mountpoint + "/") else {
                printError("bucketfs: \(p) is not inside \(c.mountpoint)")
                throw ExitCode(ExitStatus.usage.rawValue)
            }
            prefixes.append(String(full.dropFirst(c.mountpoint.count + (full == c.mountpoint ? 0 : 1))))
        }
        c.send(["command": "sync", "prefixes": prefixes.filter { !$0.isEmpty }])
        let start = Date()
        var failed: [[String: Any]] = []
        let progress = ProgressLine()
        try c.answers { a in
            if a["done"] as? Bool == true {
                failed = a["failed"] as? [[String: Any]] ?? []
                return
            }
            let filesLeft = (a["files_left"] as? NSNumber)?.intValue ?? 0
            let bytesLeft = (a["bytes_left"] as? NSNumber)?.int64Value ?? 0
            let done = (a["bytes_done"] as? NSNumber)?.int64Value ?? 0
            let rate = Double(done) / max(Date().timeIntervalSince(start), 0.001)
            progress.update("sync: \(filesLeft) file(s), \(humanBytes(bytesLeft)) left, \(humanBytes(Int64(rate)))/s")
        }
        progress.finish()
        guard failed.isEmpty else {
            for f in failed { printError("bucketfs: not stored: \(f["key"] as? String ?? "?"): \(f["error"] as? String ?? "")") }
            throw ExitCode(ExitStatus.failure.rawValue)
        }
        "sync: every file closed before the sync is stored\n".withCString { _ = write(1, $0, strlen($0)) }
    }
}
