import BucketFSCore
import Foundation
import Glibc

/// The server side, in the mount process: a thread that accepts connections and answers each on
/// a thread of its own (never a FUSE thread), calling into the filesystem.
final class ControlServer: @unchecked Sendable {
    let fs: BucketFileSystem
    let path: String
    let info: [String: Any]
    private var listener: Int32 = -1

    init(fs: BucketFileSystem, mountpoint: String, info: [String: Any]) {
        self.fs = fs
        self.path = ControlSocket.path(for: mountpoint)
        self.info = info
    }

    /// Starts listening; false (and the mount goes on without it) if the socket cannot be made.
    func start() -> Bool {
        let dir = (path as NSString).deletingLastPathComponent
        mkdir(dir, 0o700)
        var st = stat()
        guard lstat(dir, &st) == 0, st.st_uid == getuid(), st.st_mode & 0o077 == 0 else { return false }
        unlink(path)
        guard var (addr, len) = ControlSocket.address(path) else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } } == 0
        guard bound, chmod(path, 0o600) == 0, listen(fd, 16) == 0 else { close(fd); return false }
        listener = fd
        Thread.detachNewThread { [self] in
            while true {
                let c = accept(fd, nil, nil)
                if c < 0 { if errno == EINTR { continue } else { return } }
                _ = fcntl(c, F_SETFD, FD_CLOEXEC)
                Thread.detachNewThread { [self] in serve(c) }
            }
        }
        return true
    }

    func stop() {
        if listener >= 0 { shutdown(listener, Int32(SHUT_RDWR)); close(listener); listener = -1 }
        unlink(path)
    }

    private func send(_ fd: Int32, _ object: [String: Any]) {
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        data.append(0x0a)
        _ = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count < 65536, read(fd, &byte, 1) == 1, byte != 0x0a { line.append(byte) }
        guard let request = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
              let command = request["command"] as? String else {
            return send(fd, ["error": "bad request"])
        }
        let fs = self.fs
        switch command {
        case "status":
            var out = info
            let (unstored, usage, errors) = (try? Blocking.run { (await fs.unstoredFiles(), fs.usage, fs.recentErrors.all) })
                ?? ([], fs.usage, [])
            out["uptime_seconds"] = usage.uptime
            out["memory_cache"] = ["used_bytes": usage.memoryCacheBytes, "capacity_bytes": usage.memoryCacheCapacity]
            if let d = usage.diskCacheBytes, let c = usage.diskCacheCapacity { out["disk_cache"] = ["used_bytes": d, "capacity_bytes": c] }
            out["cache_hits"] = usage.cacheHits
            out["cache_misses"] = usage.cacheMisses
            out["open_handles"] = usage.openFiles
            out["unstored"] = unstored.map { f -> [String: Any] in
                var e: [String: Any] = ["key": f.key, "size": f.size, "age_seconds": f.age, "open": f.open]
                if let why = f.abandoned { e["not_stored"] = why }
                return e
            }
            out["errors"] = errors.map { ["time": $0.time.seconds, "message": $0.message] }
            send(fd, out)
        case "sync":
            let prefixes = (request["prefixes"] as? [String]) ?? []
            let failed = (try? Blocking.run { () -> [(key: String, error: String)] in
                var all: [(key: String, error: String)] = []
                for p in prefixes.isEmpty ? [nil] : prefixes.map(Optional.some) {
                    all += await fs.sync(prefix: p) { progress in
                        self.send(fd, ["files_left": progress.filesLeft, "bytes_left": progress.bytesLeft,
                                       "files_done": progress.filesDone, "bytes_done": progress.bytesDone])
                    }
                }
                return all
            }) ?? []
            send(fd, ["done": true, "failed": failed.map { ["key": $0.key, "error": $0.error] }])
        default:
            send(fd, ["error": "unknown command \(command)"])
        }
    }
}
