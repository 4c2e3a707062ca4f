#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import S3

/// Changes a caller asks `setattr` for; nil fields stay as they are.
public struct AttributeChanges: Sendable {
    public var mode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    public var size: Int64?
    public var atime: Timestamp?
    public var mtime: Timestamp?
    /// The whole new set of extended attributes (setxattr, removexattr).
    public var xattrs: [String: [UInt8]]?
    public init(mode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil, size: Int64? = nil,
                atime: Timestamp? = nil, mtime: Timestamp? = nil) {
        self.mode = mode; self.uid = uid; self.gid = gid; self.size = size; self.atime = atime; self.mtime = mtime
    }

    var changesMetadata: Bool { mode != nil || uid != nil || gid != nil || atime != nil || mtime != nil || xattrs != nil }

    func apply(to a: inout NodeAttributes) {
        if let m = mode { a.mode = m & 0o7777 }
        if let u = uid { a.uid = u }
        if let g = gid { a.gid = g }
        if let t = atime { a.atime = t }
        if let t = mtime { a.mtime = t }
        if let x = xattrs { a.xattrs = x }
        a.ctime = .now()
    }
}

/// Who is asking: the caller's ids become the owner of what it creates.
public struct Caller: Sendable {
    public var uid: UInt32
    public var gid: UInt32
    public init(uid: UInt32, gid: UInt32) { self.uid = uid; self.gid = gid }
}
