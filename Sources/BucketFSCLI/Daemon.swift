import Foundation
import Glibc

/// Background mounts without fork-after-threads: the program starts itself again in the
/// foreground (`-f --ready-fd 3`) in a new session, and waits on a pipe until the child says the
/// mount is live (exit 0) or says why it failed (its message, exit 1).
enum Daemon {
    static let readyMessage = "OK"

    /// Starts the child and waits for its verdict. Returns the exit code for this process.
    static func launchAndWait(arguments: [String], logFile: String?) -> Int32 {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { printError("bucketfs: pipe: \(String(cString: strerror(errno)))"); return 1 }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let out = logFile ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_APPEND | O_CREAT, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // The read end may itself be fd 3: close it before the write end takes that number.
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_adddup2(&actions, fds[1], 3)
        if fds[1] != 3 { posix_spawn_file_actions_addclose(&actions, fds[1]) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, 0x80) // POSIX_SPAWN_SETSID (glibc), not imported by Swift
        // The real path, so the mount process shows under its name in ps and pgrep.
        var pathBuf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &pathBuf, pathBuf.count - 1)
        let exe = n > 0 ? String(decoding: pathBuf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/proc/self/exe"
        let argv = [exe] + arguments + ["-f", "--ready-fd", "3"]
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        var env = ProcessInfo.processInfo.environment
        env["BUCKETFS_DAEMON"] = "1"
        var cenv: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { cenv.forEach { free($0) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, exe, &actions, &attr, &cargs, &cenv)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            printError("bucketfs: cannot start the mount process: \(String(cString: strerror(rc)))")
            return 1
        }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &buf, buf.count)
            if n > 0 {
                bytes += buf[0..<n]
                if bytes.last == UInt8(ascii: "\n") { break }
                continue
            }
            if n < 0 && errno == EINTR { continue }
            break
        }
        close(fds[0])
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text == readyMessage { return 0 }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        printError(text.isEmpty ? "bucketfs: the mount process exited before the mount was ready" : text)
        let code = (status >> 8) & 0xff
        return code == 0 ? 1 : code
    }

    /// The child's side: report readiness or failure on the pipe, once.
    static func report(fd: Int32?, _ message: String) {
        guard let fd else { return }
        let line = message + "\n"
        line.withCString { p in _ = write(fd, p, strlen(p)) }
        close(fd)
    }
}
