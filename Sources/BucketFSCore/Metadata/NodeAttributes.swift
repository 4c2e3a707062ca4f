#if canImport(Glibc)
import Glibc
#endif
import S3

/// The file types a node can have. Every kind but `directory` is one object; the kinds other
/// than `file` are told by the type bits of its `mode` metadata (s3fs's convention).
public enum NodeKind: Sendable, Equatable {
    case file
    case directory
    case symlink
    case fifo
    case socket
    case characterDevice
    case blockDevice

    /// The S_IFMT bits of this kind.
    public var typeBits: UInt32 {
        switch self {
        case .file: UInt32(S_IFREG)
        case .directory: UInt32(S_IFDIR)
        case .symlink: UInt32(S_IFLNK)
        case .fifo: UInt32(S_IFIFO)
        case .socket: UInt32(S_IFSOCK)
        case .characterDevice: UInt32(S_IFCHR)
        case .blockDevice: UInt32(S_IFBLK)
        }
    }

    /// The kind of an st_mode's type bits (nil for none or an unknown type).
    public init?(mode: UInt32) {
        switch mode & UInt32(S_IFMT) {
        case UInt32(S_IFREG): self = .file
        case UInt32(S_IFDIR): self = .directory
        case UInt32(S_IFLNK): self = .symlink
        case UInt32(S_IFIFO): self = .fifo
        case UInt32(S_IFSOCK): self = .socket
        case UInt32(S_IFCHR): self = .characterDevice
        case UInt32(S_IFBLK): self = .blockDevice
        default: return nil
        }
    }

    /// A fifo, socket or device: an empty object whose content nothing reads.
    public var isSpecial: Bool { self != .file && self != .directory && self != .symlink }
}

/// What `stat` shows of a node. `mode` holds the permission bits only; the type is `kind`.
public struct NodeAttributes: Sendable, Equatable {
    public var kind: NodeKind
    public var size: Int64
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var mtime: Timestamp
    public var ctime: Timestamp
    public var atime: Timestamp
    /// The object's ETag (files and symlinks).
    public var etag: String?
    /// When the server last wrote the object (LastModified), which identifies a version where an
    /// ETag cannot: Swift s3api lists a copied multipart object under another ETag than HEAD shows.
    public var stored: Timestamp?
    /// The device number of a character or block device (s3fs's `rdev`).
    public var rdev: UInt64 = 0
    /// A symlink's target, when known without reading the object.
    public var linkTarget: String?
    /// Extended attributes (user.* only), as far as this mount knows them.
    public var xattrs: [String: [UInt8]] = [:]
    /// Whether these attributes came from POSIX metadata (or were made here) rather than from
    /// the mount's defaults: a directory record stores only the fact for objects without any.
    public var hasMetadata = true

    public init(kind: NodeKind, size: Int64, mode: UInt32, uid: UInt32, gid: UInt32, mtime: Timestamp,
                ctime: Timestamp? = nil, atime: Timestamp? = nil, etag: String? = nil) {
        self.kind = kind; self.size = size; self.mode = mode; self.uid = uid; self.gid = gid
        self.mtime = mtime; self.ctime = ctime ?? mtime; self.atime = atime ?? mtime; self.etag = etag
    }

    func with(stored: Timestamp?, hasMetadata: Bool = true) -> NodeAttributes {
        var a = self
        a.stored = stored
        a.hasMetadata = hasMetadata
        return a
    }

    func with(rdev: UInt64, xattrs: [String: [UInt8]]) -> NodeAttributes {
        var a = self
        a.rdev = rdev
        a.xattrs = xattrs
        return a
    }

    /// st_mode with the file type bits.
    public var stMode: UInt32 { kind.typeBits | (mode & 0o7777) }
}
