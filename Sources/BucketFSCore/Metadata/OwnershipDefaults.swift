/// Who owns nodes and which modes they get when the bucket says nothing (s3fs's options).
public struct OwnershipDefaults: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    public var fileMode: UInt32
    public var dirMode: UInt32

    public init(uid: UInt32, gid: UInt32, fileMode: UInt32 = 0o644, dirMode: UInt32 = 0o755) {
        self.uid = uid; self.gid = gid; self.fileMode = fileMode; self.dirMode = dirMode
    }

    /// Applies `umask` to both default modes (s3fs `-o umask=`).
    public mutating func apply(umask: UInt32) {
        fileMode = 0o666 & ~umask
        dirMode = 0o777 & ~umask
    }
}
