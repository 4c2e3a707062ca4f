#if canImport(Glibc)
import Glibc
#endif
import S3

/// Extended attributes: the `user.` namespace, stored with the object (`ExtendedAttributes`).
/// Reads are answered from memory (what a HEAD, a record or a write told), never with a
/// request: the kernel asks for `security.capability` before every write.
extension BucketFileSystem {
    /// The value of `name` (ENODATA when there is none). A name outside `user.` is EOPNOTSUPP:
    /// tools remember that per filesystem (`ls -l` asks for `security.selinux` and ACLs once,
    /// not once per entry), and the kernel reads it as "no capability" before a write.
    public func getxattr(_ ino: UInt64, name: String) throws -> [UInt8] {
        let n = try node(ino)
        guard name.hasPrefix(ExtendedAttributes.namespace) else { throw FSError(EOPNOTSUPP) }
        guard let v = n.attributes.xattrs[name] else { throw FSError(ENODATA) }
        return v
    }

    public func listxattr(_ ino: UInt64) throws -> [String] {
        try node(ino).attributes.xattrs.keys.sorted()
    }

    /// setxattr(2): XATTR_CREATE (1) fails with EEXIST on an existing name, XATTR_REPLACE (2)
    /// with ENODATA on a missing one; names outside `user.` are not supported.
    public func setxattr(_ ino: UInt64, name: String, value: [UInt8], flags: Int32) async throws {
        try requireWritable()
        guard name.hasPrefix(ExtendedAttributes.namespace), name.utf8.count > ExtendedAttributes.namespace.utf8.count,
              name.utf8.count <= 255 else {
            throw FSError(name.utf8.count > 255 ? ERANGE : EOPNOTSUPP)
        }
        guard value.count <= ExtendedAttributes.maxValueBytes else { throw FSError(E2BIG) }
        var n = try node(ino)
        if !n.headChecked && !n.isDirectory && !isStaged(ino) { n = try await refresh(n) }
        var x = n.attributes.xattrs
        if flags & 1 != 0 && x[name] != nil { throw FSError(EEXIST) }
        if flags & 2 != 0 && x[name] == nil { throw FSError(ENODATA) }
        x[name] = value
        guard ExtendedAttributes.fits(x) else {
            throw FSError(ENOSPC, "extended attributes of \(n.name) over \(ExtendedAttributes.maxEncodedBytes) bytes encoded")
        }
        var c = AttributeChanges()
        c.xattrs = x
        _ = try await setattr(ino, c)
    }

    public func removexattr(_ ino: UInt64, name: String) async throws {
        try requireWritable()
        var n = try node(ino)
        if !n.headChecked && !n.isDirectory && !isStaged(ino) { n = try await refresh(n) }
        var x = n.attributes.xattrs
        guard x.removeValue(forKey: name) != nil else { throw FSError(ENODATA) }
        var c = AttributeChanges()
        c.xattrs = x
        _ = try await setattr(ino, c)
    }
}
