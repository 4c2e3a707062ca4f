import BucketFSCore
import Foundation
import Glibc

/// The running mount's local control socket, for `bucketfs status` and `bucketfs sync`. A unix
/// stream socket in a directory of mode 0700 owned by the mount's user (`/run/bucketfs` for root,
/// else `$XDG_RUNTIME_DIR/bucketfs`), the socket itself 0600: only that user and root can open it;
/// no network port. One JSON request line per connection; JSON lines back.
enum ControlSocket {
    /// Where the socket of the mount on `mountpoint` (an absolute, resolved path) lives.
    static func path(for mountpoint: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let dir = getuid() == 0 ? "/run/bucketfs" : (environment["XDG_RUNTIME_DIR"].map { $0 + "/bucketfs" } ?? "/tmp/bucketfs-\(getuid())")
        // FNV-1a of the mount point: a short, fixed-length name (socket paths are limited to 107 bytes).
        var hash: UInt64 = 0xcbf29ce484222325
        for b in mountpoint.utf8 { hash = (hash ^ UInt64(b)) &* 0x100000001b3 }
        return dir + "/" + String(hash, radix: 16) + ".sock"
    }

    static func address(_ path: String) -> (sockaddr_un, socklen_t)? {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
        return (addr, socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1))
    }

    /// Connects to a mount's socket; nil if no mount answers there.
    static func connect(_ path: String) -> Int32? {
        guard var (addr, len) = address(path) else { return nil }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, len) } } == 0
        if !ok { close(fd); return nil }
        return fd
    }
}
