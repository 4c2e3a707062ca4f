#if canImport(Glibc)
import Glibc
#endif
import S3

/// A filesystem failure as the kernel sees it: an errno, plus a message for the log.
public struct FSError: Error, Sendable, CustomStringConvertible {
    public var errno: Int32
    public var message: String

    public init(_ errno: Int32, _ message: String = "") {
        self.errno = errno
        self.message = message
    }

    public static func from(_ error: any Error) -> FSError {
        if let e = error as? FSError { return e }
        if let e = error as? S3Error { return FSError(e.errno, e.description) }
        if error is CancellationError { return FSError(EINTR, "cancelled") }
        return FSError(EIO, String(describing: error))
    }

    public var description: String { message.isEmpty ? "errno \(errno)" : "\(message) (errno \(errno))" }

    public static let notFound = FSError(ENOENT)
    public static let readOnly = FSError(EROFS)
}
