import Glibc
import Logging
import Synchronization

/// Where log lines go: standard error (foreground), a file, or syslog (background mounts).
/// Lines are built from messages the code writes; no credential is ever put in one.
public enum LogDestination: Sendable {
    case standardError
    case file(Int32)
    case syslog
}

public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    let label: String
    let destination: LogDestination

    public init(label: String, level: Logger.Level, destination: LogDestination) {
        self.label = label
        self.logLevel = level
        self.destination = destination
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let text = "\(event.level): \(event.message)"
        switch destination {
        case .syslog:
            let prio: Int32
            switch event.level {
            case .trace, .debug: prio = LOG_DEBUG
            case .info: prio = LOG_INFO
            case .notice: prio = LOG_NOTICE
            case .warning: prio = LOG_WARNING
            case .error: prio = LOG_ERR
            case .critical: prio = LOG_CRIT
            }
            withVaList([text]) { vsyslog(prio, "%s", $0) }
        case .standardError, .file:
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            var t = time_t(now.tv_sec)
            var tmv = tm()
            localtime_r(&t, &tmv)
            var buf = [CChar](repeating: 0, count: 32)
            let n = strftime(&buf, buf.count, "%Y-%m-%d %H:%M:%S", &tmv)
            let stamp = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let line = "\(stamp) bucketfs \(text)\n"
            let fd: Int32
            if case .file(let f) = destination { fd = f } else { fd = 2 }
            line.withCString { p in _ = write(fd, p, strlen(p)) }
        }
    }
}

public enum LogSetup {
    private static let done = Mutex(false)

    /// Installs the handler once per process.
    public static func install(level: Logger.Level, destination: LogDestination) {
        let first = done.withLock { d -> Bool in
            defer { d = true }
            return !d
        }
        guard first else { return }
        if case .syslog = destination { openlog("bucketfs", LOG_PID, LOG_DAEMON) }
        LoggingSystem.bootstrap { LineLogHandler(label: $0, level: level, destination: destination) }
    }

    public static func level(_ s: String?, debug: Bool) -> Logger.Level {
        if debug { return .debug }
        switch s?.lowercased() {
        case "trace": return .trace
        case "debug", "dbg": return .debug
        case "info": return .info
        case "warn", "warning": return .warning
        case "err", "error", "crit", "critical": return .error
        default: return .notice
        }
    }
}

/// Writes a line to standard error (not concurrency-hostile, unlike `stderr`).
public func printError(_ s: String) {
    let line = s.hasSuffix("\n") ? s : s + "\n"
    line.withCString { p in _ = write(2, p, strlen(p)) }
}
