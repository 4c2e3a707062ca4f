import Foundation
#if canImport(Glibc)
import Glibc
#endif
import S3

/// Decodes the POSIX metadata that s3fs (and rclone, for mtime) store as user metadata:
/// `mode` (decimal st_mode with type bits), `uid`, `gid`, `mtime`/`ctime`/`atime` (integer
/// seconds, `sec.nsec`, or float seconds). Anything missing or unparsable falls back to the
/// defaults and to LastModified, never to an error.
public enum MetadataCodec {
    public static func parseTime(_ s: String?) -> Timestamp? {
        guard let s = s?.trimmingCharacters(in: .whitespaces), !s.isEmpty else { return nil }
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let sec = Int64(parts[0]) else { return nil }
        var nanos: Int32 = 0
        if parts.count == 2 {
            let frac = parts[1].prefix(9)
            guard !frac.isEmpty, frac.allSatisfy(\.isNumber) else { return nil }
            nanos = Int32(frac + String(repeating: "0", count: 9 - frac.count)) ?? 0
        }
        return Timestamp(seconds: sec, nanoseconds: nanos)
    }

    public static func kind(ofMode mode: UInt32) -> NodeKind? { NodeKind(mode: mode) }

    /// Attributes of an object from its metadata (HEAD) or, with `metadata` empty, from a listing.
    public static func attributes(size: Int64, etag: String?, lastModified: Timestamp?, metadata: [String: String],
                                  isDirectory: Bool, defaults: OwnershipDefaults) -> NodeAttributes {
        let rawMode = metadata["mode"].flatMap { UInt32($0.trimmingCharacters(in: .whitespaces)) }
        var nodeKind: NodeKind = isDirectory ? .directory : .file
        if !isDirectory, let m = rawMode, let k = kind(ofMode: m), k != .directory { nodeKind = k }
        let mode = rawMode.map { $0 & 0o7777 } ?? (isDirectory ? defaults.dirMode : defaults.fileMode)
        let mtime = parseTime(metadata["mtime"]) ?? lastModified ?? Timestamp(seconds: 0)
        return NodeAttributes(kind: nodeKind, size: isDirectory ? 0 : size, mode: mode,
                              uid: metadata["uid"].flatMap { UInt32($0) } ?? defaults.uid,
                              gid: metadata["gid"].flatMap { UInt32($0) } ?? defaults.gid,
                              mtime: mtime, ctime: parseTime(metadata["ctime"]) ?? mtime,
                              atime: parseTime(metadata["atime"]) ?? mtime, etag: etag)
            .with(stored: lastModified, hasMetadata: metadata.keys.contains { ownedNames.contains($0) })
            .with(rdev: nodeKind == .characterDevice || nodeKind == .blockDevice ? metadata["rdev"].flatMap { UInt64($0) } ?? 0 : 0,
                  xattrs: metadata["xattr"].flatMap { ExtendedAttributes.decode($0) } ?? [:])
    }
}

extension MetadataCodec {
    public static func formatTime(_ t: Timestamp) -> String {
        guard t.nanoseconds != 0 else { return String(t.seconds) }
        // Nine digits, zero-padded (String(format:) costs more than the rest of an upload's metadata).
        let digits = String(t.nanoseconds)
        return "\(t.seconds)." + String(repeating: "0", count: max(0, 9 - digits.count)) + digits
    }

    /// The s3fs metadata for `a`: `mode` (decimal st_mode with the type bits), `uid`, `gid`,
    /// `mtime`, `ctime`, `atime` (seconds, with `.nnnnnnnnn` when there are nanoseconds).
    /// Devices add `rdev` (decimal dev_t) and extended attributes `xattr` (s3fs's encoding, see
    /// `ExtendedAttributes`).
    public static func encode(_ a: NodeAttributes) -> [String: String] {
        var m = ["mode": String(a.stMode), "uid": String(a.uid), "gid": String(a.gid),
                 "mtime": formatTime(a.mtime), "ctime": formatTime(a.ctime), "atime": formatTime(a.atime)]
        if a.kind == .characterDevice || a.kind == .blockDevice { m["rdev"] = String(a.rdev) }
        if !a.xattrs.isEmpty { m["xattr"] = ExtendedAttributes.encode(a.xattrs) }
        return m
    }

    /// Metadata names this codec owns; any other user metadata is carried along unchanged.
    public static let ownedNames: Set<String> = ["mode", "uid", "gid", "mtime", "ctime", "atime", "rdev", "xattr"]
}
