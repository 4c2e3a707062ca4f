#if canImport(Glibc)
import Glibc
#endif

/// Reads a /proc file whole: procfs reports a size of 0, so it is read until EOF, up to a bound.
enum ProcFile {
    static func read(_ path: String, limit: Int = 16384) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while out.count < limit {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 4096) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
