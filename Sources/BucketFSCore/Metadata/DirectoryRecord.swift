import S3

/// One directory's metadata record: the POSIX attributes of its entries, each tied to the
/// version of the object it describes (ETag, size and LastModified, as a listing shows them).
/// It lives in the object `DIR/.bucketfs-metadata` beside the entries and is only a cache: an
/// entry is believed only while the listing shows that same version, so a change by any other
/// writer, a crash or a lost update costs a HEAD, never a wrong answer.
///
/// Its text form is one header line, then one line per entry, tab-separated:
/// `f NAME ETAG SIZE STORED MODE UID GID MTIME CTIME ATIME RDEV TARGET XATTR` for objects
/// (`f` file, `l` symlink, `p` fifo, `s` socket, `c`/`b` devices; MODE is `-` for an object
/// with no POSIX metadata, which shows the mount's defaults) and `d NAME MODE UID GID MTIME
/// CTIME ATIME XATTR` for a subdirectory this mount gave metadata. A listing shows no version
/// of a subdirectory, so its marker (HEAD) is believed first; the record's attributes serve
/// where the marker has none (SeaweedFS keeps no metadata on markers). Names and targets are
/// percent-encoded.
public struct DirectoryRecord: Sendable {
    public static let objectName = ".bucketfs-metadata"
    static let header = "bucketfs-metadata 1"
    /// Entries kept at most (about 100 bytes each); a larger directory's record holds the first ones.
    public static let maxEntries = 200_000

    public struct Entry: Sendable, Equatable {
        public var etag: String
        public var size: Int64
        public var stored: Int64
        /// nil: the object has no POSIX metadata.
        public var attributes: NodeAttributes?
    }

    public var files: [String: Entry] = [:]
    /// Subdirectories given metadata, with the attributes they were given.
    public var directories: [String: NodeAttributes] = [:]

    public init() {}

    /// The attributes this record holds for `name` if the listing shows the version it describes
    /// (with the mount's `defaults` for an object without metadata); nil if it does not vouch.
    public func attributes(of name: String, listed: NodeAttributes, defaults: NodeAttributes) -> NodeAttributes? {
        guard let e = files[name], e.etag == listed.etag, e.size == listed.size,
              let stored = listed.stored, stored.seconds == e.stored else { return nil }
        guard var a = e.attributes else {
            var d = defaults
            d.hasMetadata = false
            return d
        }
        a.size = listed.size
        a.etag = listed.etag
        a.stored = listed.stored
        return a
    }

    public mutating func set(_ name: String, etag: String, size: Int64, stored: Timestamp, attributes: NodeAttributes) {
        files[name] = Entry(etag: etag, size: size, stored: stored.seconds,
                            attributes: attributes.hasMetadata ? attributes : nil)
    }

    // MARK: text form

    public func encoded() -> String {
        var out = Self.header + "\n"
        out.reserveCapacity(files.count * 100)
        for (name, a) in directories.sorted(by: { $0.key < $1.key }) {
            out += ["d", URIEncoding.encode(name), String(a.mode, radix: 8), String(a.uid), String(a.gid), MetadataCodec.formatTime(a.mtime),
                    MetadataCodec.formatTime(a.ctime), MetadataCodec.formatTime(a.atime),
                    a.xattrs.isEmpty ? "" : ExtendedAttributes.encode(a.xattrs)].joined(separator: "\t") + "\n"
        }
        for (name, e) in files.sorted(by: { $0.key < $1.key }) {
            var fields = [Self.letter(e.attributes?.kind ?? .file), URIEncoding.encode(name), e.etag, String(e.size), String(e.stored)]
            if let a = e.attributes {
                fields += [String(a.mode, radix: 8), String(a.uid), String(a.gid), MetadataCodec.formatTime(a.mtime),
                           MetadataCodec.formatTime(a.ctime), MetadataCodec.formatTime(a.atime), String(a.rdev),
                           a.linkTarget.map { URIEncoding.encode($0) } ?? "", a.xattrs.isEmpty ? "" : ExtendedAttributes.encode(a.xattrs)]
            } else {
                fields.append("-")
            }
            out += fields.joined(separator: "\t") + "\n"
        }
        return out
    }

    /// The record in `text`; nil if it is not one (another version's or a damaged object).
    public static func decode(_ text: Substring) -> DirectoryRecord? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)[...]
        guard lines.first == Substring(header) else { return nil }
        lines = lines.dropFirst()
        var r = DirectoryRecord()
        for line in lines {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count >= 2, let name = URIEncoding.decode(String(f[1])), KeyNames.isValidName(name) else { continue }
            if f[0] == "d" {
                guard f.count >= 9, let mode = UInt32(f[2], radix: 8), let uid = UInt32(f[3]), let gid = UInt32(f[4]),
                      let mtime = MetadataCodec.parseTime(String(f[5])), let ctime = MetadataCodec.parseTime(String(f[6])),
                      let atime = MetadataCodec.parseTime(String(f[7])) else { continue }
                var a = NodeAttributes(kind: .directory, size: 0, mode: mode, uid: uid, gid: gid, mtime: mtime, ctime: ctime, atime: atime)
                a.xattrs = f[8].isEmpty ? [:] : ExtendedAttributes.decode(String(f[8])) ?? [:]
                r.directories[name] = a
                continue
            }
            guard f.count >= 6, let kind = kind(f[0]), let size = Int64(f[3]), let stored = Int64(f[4]) else { continue }
            var entry = Entry(etag: String(f[2]), size: size, stored: stored, attributes: nil)
            if f[5] != "-" {
                guard f.count >= 14, let mode = UInt32(f[5], radix: 8), let uid = UInt32(f[6]), let gid = UInt32(f[7]),
                      let mtime = MetadataCodec.parseTime(String(f[8])), let ctime = MetadataCodec.parseTime(String(f[9])),
                      let atime = MetadataCodec.parseTime(String(f[10])), let rdev = UInt64(f[11]) else { continue }
                var a = NodeAttributes(kind: kind, size: size, mode: mode, uid: uid, gid: gid, mtime: mtime, ctime: ctime, atime: atime)
                a.rdev = rdev
                a.linkTarget = f[12].isEmpty ? nil : URIEncoding.decode(String(f[12]))
                a.xattrs = f[13].isEmpty ? [:] : ExtendedAttributes.decode(String(f[13])) ?? [:]
                entry.attributes = a
            }
            r.files[name] = entry
            if r.files.count >= maxEntries { break }
        }
        return r
    }

    static func letter(_ k: NodeKind) -> String {
        switch k {
        case .file, .directory: "f"
        case .symlink: "l"
        case .fifo: "p"
        case .socket: "s"
        case .characterDevice: "c"
        case .blockDevice: "b"
        }
    }

    static func kind(_ s: Substring) -> NodeKind? {
        switch s {
        case "f": .file
        case "l": .symlink
        case "p": .fifo
        case "s": .socket
        case "c": .characterDevice
        case "b": .blockDevice
        default: nil
        }
    }
}
