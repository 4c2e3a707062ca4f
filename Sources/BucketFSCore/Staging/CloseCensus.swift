#if canImport(Glibc)
import Glibc
#endif

/// What a close(2) of a written file means, told from /proc (FUSE's flush says only which
/// process closes). Guarantees: `.last` only when neither the closing process nor its parent
/// holds another writable descriptor of the file, and the process is not dying of a signal;
/// anything it cannot read counts as `.last`, the answer that keeps close-returns-once-stored.
public enum CloseMeaning: Sendable, Equatable {
    /// No writable descriptor of the file is left with the closer or its parent: the file is finished.
    case last
    /// Another writable descriptor is open (`dd` and `exec > file` dup2 then close; a child
    /// closes its copy of its parent's stdout): the file is not finished yet.
    case stillOpen
    /// The closing process is dying of this signal: what it wrote is not a finished file.
    case killed(Int32)
}

/// Reads /proc to tell a close's meaning (`CloseMeaning`).
public struct CloseCensus: Sendable {
    public var procRoot: String
    /// This process's pid: its own descriptors never count.
    let ownPid = getpid()

    public init(procRoot: String = "/proc") { self.procRoot = procRoot }

    /// The meaning of a close by `pid` (a thread id, as FUSE gives it) of the file with inode
    /// number `ino` on the mount `mountID` (nil: any mount).
    public func meaning(pid: Int32, ino: UInt64, mountID: Int?) -> CloseMeaning {
        guard pid > 0, pid != ownPid, let closer = status(pid) else { return .last }
        if closer.exiting, closer.exitCode & 0x7f != 0 { return .killed(closer.exitCode & 0x7f) }
        if holdsWritable(pid, ino: ino, mountID: mountID) { return .stillOpen }
        let parent = closer.ppid
        if parent > 1, parent != ownPid, holdsWritable(parent, ino: ino, mountID: mountID) { return .stillOpen }
        return .last
    }

    struct Status {
        var ppid: Int32
        var exiting: Bool
        var exitCode: Int32
    }

    /// From /proc/PID/stat: the parent, whether the task is exiting (PF_EXITING), and its exit
    /// code as wait(2) would see it (field 52, readable by root or the task's owner).
    func status(_ pid: Int32) -> Status? {
        guard let text = ProcFile.read(procRoot + "/\(pid)/stat"),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields after the command name, starting with field 3 (state).
        let f = text[text.index(after: close)...].split(separator: " ")
        guard f.count > 6, let ppid = Int32(f[1]), let flags = UInt64(f[6]) else { return nil }
        let exitCode = f.count > 49 ? Int32(f[49].filter { $0 != "\n" }) ?? 0 : 0
        return Status(ppid: ppid, exiting: flags & 0x4 != 0, exitCode: exitCode)
    }

    /// Whether `pid` has a descriptor open for writing on inode `ino` of mount `mountID`.
    func holdsWritable(_ pid: Int32, ino: UInt64, mountID: Int?) -> Bool {
        let dir = procRoot + "/\(pid)/fdinfo"
        guard let d = opendir(dir) else { return false }
        defer { closedir(d) }
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let first = name.utf8.first, first != UInt8(ascii: ".") else { continue }
            guard let info = ProcFile.read(dir + "/" + name) else { continue }
            var fileIno: UInt64?, mnt: Int?, flags: Int32?
            for line in info.split(separator: "\n") {
                // "name:<tab>value"
                let parts = line.split(whereSeparator: { $0 == ":" || $0 == " " || $0 == "\t" })
                guard parts.count == 2 else { continue }
                switch parts[0] {
                case "ino": fileIno = UInt64(parts[1])
                case "mnt_id": mnt = Int(parts[1])
                case "flags": flags = Int32(parts[1], radix: 8)
                default: break
                }
            }
            guard fileIno == ino, mountID == nil || mnt == mountID, let flags, flags & O_ACCMODE != O_RDONLY else { continue }
            return true
        }
        return false
    }
}
