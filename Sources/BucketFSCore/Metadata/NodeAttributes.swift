#if canImport(Glibc)
import Glibc
#endif
import S3

public enum NodeKind: Sendable, Equatable {
    case file
    case directory
    case symlink
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

    public init(kind: NodeKind, size: Int64, mode: UInt32, uid: UInt32, gid: UInt32, mtime: Timestamp,
                ctime: Timestamp? = nil, atime: Timestamp? = nil, etag: String? = nil) {
        self.kind = kind; self.size = size; self.mode = mode; self.uid = uid; self.gid = gid
        self.mtime = mtime; self.ctime = ctime ?? mtime; self.atime = atime ?? mtime; self.etag = etag
    }

    func with(stored: Timestamp?) -> NodeAttributes {
        var a = self
        a.stored = stored
        return a
    }

    /// st_mode with the file type bits.
    public var stMode: UInt32 {
        let type: UInt32
        switch kind {
        case .file: type = UInt32(S_IFREG)
        case .directory: type = UInt32(S_IFDIR)
        case .symlink: type = UInt32(S_IFLNK)
        }
        return type | (mode & 0o7777)
    }
}
