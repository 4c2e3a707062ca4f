import BucketFSCore
import S3

/// A mount request as the command line and `-o` options give it, validated. Parsing is pure
/// (no I/O), so every option is tested without a mount.
public struct MountSettings: Sendable, Equatable {
    public var bucket: String
    public var prefix: String = ""
    public var mountpoint: String
    /// Endpoint, signing and credentials: the same settings the admin commands use.
    public var connection = ConnectionSettings()
    public var foreground = false
    public var debug = false
    public var readOnly = false
    public var allowOther = false
    public var allowRoot = false
    public var nonempty = false
    public var uid: UInt32?
    public var gid: UInt32?
    public var umask: UInt32?
    public var fileMode: UInt32?
    public var dirMode: UInt32?
    public var cacheDir: String?
    public var cacheSize: Int?
    public var memoryCacheSize: Int?
    public var blockSize: Int?
    public var metadataTTL: Double?
    public var negativeTTL: Double?
    public var posixMetadata = false
    public var directIO = false
    public var cachedWrites = false
    public var logFile: String?
    public var logLevel: String?
    public var fsname: String?
    public var threads: Int?
    public var maxParts: Int?
    public var partSize: Int?
    public var stagingDir: String?
    public var uploadRetry: Double?
    /// `unmount_sync=SEC`: how long an unmount spends storing what is not stored yet.
    public var unmountSync: Double?
    /// `metrics=HOST:PORT`: where Prometheus scrapes `/metrics` (nil: no metrics).
    public var metrics: (host: String, port: Int)? { metricsSpec.flatMap(MetricsSpec.parse) }
    public var metricsSpec: String?
    public var uploadConcurrency: Int?
    public var readahead: Int?
    /// Largest object fetched whole when read at random (`fill_max`).
    public var fillMax: Int?
    /// Files fetched ahead of a reader in listing order (`files_ahead`).
    public var filesAhead: Int?
    public var readPartSize: Int?
    public var prefetchMemory: Int?
    public var memoryLimit: Int?

    public init(bucket: String, prefix: String = "", mountpoint: String) {
        self.bucket = bucket
        self.prefix = prefix
        self.mountpoint = mountpoint
        connection.bucket = bucket
        connection.connectTimeout = 3
    }

    /// Options mount(8) and fstab pass along that mean nothing here.
    static let ignored: Set<String> = ["rw", "defaults", "auto", "noauto", "_netdev", "nofail", "user", "users", "nouser",
                                       "dev", "nodev", "suid", "nosuid", "exec", "noexec", "atime", "noatime",
                                       "relatime", "nodiratime", "async", "sync", "default_permissions", "big_writes"]

    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public var description: String
        init(_ s: String) { description = s }
    }

    /// `BUCKET` or `BUCKET:/PREFIX` (also `BUCKET:PREFIX`).
    public static func parseSource(_ s: String) throws -> (bucket: String, prefix: String) {
        var bucket = s
        var prefix = ""
        if let colon = s.firstIndex(of: ":") {
            bucket = String(s[..<colon])
            prefix = String(s[s.index(after: colon)...])
        }
        do { try BucketName.validate(bucket) } catch { throw ParseError("\(error)") }
        guard let p = KeyNames.normalizePrefix(prefix) else {
            throw ParseError("invalid prefix \"\(prefix)\": components must be valid file names")
        }
        return (bucket, p)
    }

    public static func parseSize(_ s: String) -> Int? {
        let t = s.trimmingCharacters(in: .whitespaces).uppercased()
        var digits = t
        var mult = 1
        let suffixes: [(String, Int)] = [("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("TIB", 1 << 40),
                                         ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("TB", 1 << 40),
                                         ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40), ("B", 1)]
        for (suffix, m) in suffixes where t.hasSuffix(suffix) {
            digits = String(t.dropLast(suffix.count))
            mult = m
            break
        }
        guard let v = Int(digits), v >= 0 else { return nil }
        let (r, o) = v.multipliedReportingOverflow(by: mult)
        return o ? nil : r
    }

    static func octal(_ name: String, _ v: String) throws -> UInt32 {
        guard let m = UInt32(v, radix: 8), m <= 0o7777 else { throw ParseError("\(name)=\(v): expected an octal mode such as 0644") }
        return m
    }

    static func number<T: FixedWidthInteger>(_ name: String, _ v: String, _ range: ClosedRange<T>) throws -> T {
        guard let n = T(v), range.contains(n) else { throw ParseError("\(name)=\(v): expected a number in \(range)") }
        return n
    }

    static func seconds(_ name: String, _ v: String) throws -> Double {
        guard let n = Double(v), n >= 0, n <= 1e9 else { throw ParseError("\(name)=\(v): expected seconds") }
        return n
    }

    static func size(_ name: String, _ v: String, min: Int = 0) throws -> Int {
        guard let n = parseSize(v), n >= min else { throw ParseError("\(name)=\(v): expected a size such as 512M or 2G") }
        return n
    }

    /// Applies one `-o` list (`a,b=c,...`).
    public mutating func apply(options: String) throws {
        for raw in options.split(separator: ",", omittingEmptySubsequences: true) {
            let item = String(raw).trimmingCharacters(in: .whitespaces)
            let name: String, value: String?
            if let eq = item.firstIndex(of: "=") {
                name = String(item[..<eq]).lowercased()
                value = String(item[item.index(after: eq)...])
            } else {
                name = item.lowercased()
                value = nil
            }
            try apply(name, value)
        }
    }

    mutating func apply(_ name: String, _ value: String?) throws {
        func need() throws -> String {
            guard let v = value, !v.isEmpty else { throw ParseError("option \(name) needs a value (\(name)=...)") }
            return v
        }
        func flag() throws {
            if value != nil { throw ParseError("option \(name) takes no value") }
        }
        if Self.ignored.contains(name) || name.hasPrefix("x-systemd.") || name.hasPrefix("comment=") { return }
        switch name {
        case "ro": try flag(); readOnly = true
        case "allow_other": try flag(); allowOther = true
        case "allow_root": try flag(); allowRoot = true
        case "nonempty": try flag(); nonempty = true
        case "uid": uid = try Self.number(name, need(), 0...UInt32.max - 1)
        case "gid": gid = try Self.number(name, need(), 0...UInt32.max - 1)
        case "umask": umask = try Self.octal(name, need())
        case "mp_umask": _ = try Self.octal(name, need())
        case "file_mode": fileMode = try Self.octal(name, need())
        case "dir_mode": dirMode = try Self.octal(name, need())
        case "url": connection.url = try need()
        case "endpoint":
            // s3fs uses `endpoint` for the region; a URL is taken as the endpoint URL.
            let v = try need()
            if v.contains("://") { connection.url = v } else { connection.region = v }
        case "region": connection.region = try need()
        case "preset":
            // The service's region: SigV4 for KR1, path-style URLs. The endpoint URL still comes
            // from url=, the profile or AWS_ENDPOINT_URL: no host is assumed.
            guard try need().lowercased() == "kr1" else { throw ParseError("unknown preset \(value ?? ""); known: kr1") }
            connection.region = "KR1"
            connection.addressing = .path
            connection.signature = .v4
            // It is Swift s3api: part numbers up to 1,000.
            maxParts = maxParts ?? 1000
        case "use_path_request_style", "path_style": try flag(); connection.addressing = .path
        case "virtual_hosted", "virtual_hosted_style": try flag(); connection.addressing = .virtual
        case "sigv2": try flag(); connection.signature = .v2
        case "sigv4": try flag(); connection.signature = .v4
        case "ca_bundle", "ssl_ca_file": connection.caBundle = try need()
        case "no_check_certificate", "insecure": try flag(); connection.insecure = true
        case "passwd_file": connection.passwdFile = try need()
        case "profile": connection.profile = try need()
        case "cache_dir", "use_cache": cacheDir = try need()
        case "cache_size": cacheSize = try Self.size(name, need(), min: 1 << 20)
        case "mem_cache_size", "memory_cache_size": memoryCacheSize = try Self.size(name, need(), min: 1 << 20)
        case "block_size":
            let b = try Self.size(name, need(), min: 64 << 10)
            guard b <= 64 << 20, b & (b - 1) == 0 else { throw ParseError("block_size must be a power of two from 64K to 64M") }
            blockSize = b
        case "metadata_ttl", "stat_cache_expire": metadataTTL = try Self.seconds(name, need())
        case "negative_ttl": negativeTTL = try Self.seconds(name, need())
        case "posix_metadata", "posix": try flag(); posixMetadata = true
        case "list_attributes": try flag(); posixMetadata = false
        case "direct_io": try flag(); directIO = true
        case "cached_writes": try flag(); cachedWrites = true
        case "listobjectsv1", "list_v1": try flag(); connection.listV1 = true
        case "max_connections", "parallel_count": connection.maxConnections = try Self.number(name, need(), 1...1024)
        case "retries": connection.retries = try Self.number(name, need(), 1...20)
        case "connect_timeout": connection.connectTimeout = try Self.number(name, need(), 1...600)
        case "readwrite_timeout", "request_timeout": connection.requestTimeout = try Self.number(name, need(), 1...3600)
        case "logfile": logFile = try need()
        case "dbglevel", "log_level": logLevel = try need()
        case "debug": try flag(); debug = true
        case "fsname": fsname = try need()
        case "threads": threads = try Self.number(name, need(), 1...256)
        case "max_parts": maxParts = try Self.number(name, need(), 1...10_000)
        case "part_size", "multipart_size":
            // s3fs's multipart_size is in MB.
            let v = try need()
            let bytes = name == "multipart_size" && Int(v) != nil ? (Int(v) ?? 0) << 20 : try Self.size(name, v)
            guard bytes >= 5 << 20, bytes <= 5 << 30 else { throw ParseError("\(name)=\(v): parts are 5 MiB to 5 GiB") }
            partSize = bytes
        case "staging_dir": stagingDir = try need()
        case "upload_retry": uploadRetry = try Self.seconds(name, need())
        case "unmount_sync": unmountSync = try Self.seconds(name, need())
        case "metrics":
            let v = try need()
            guard MetricsSpec.parse(v) != nil else { throw ParseError("metrics=\(v): expected HOST:PORT or PORT") }
            metricsSpec = v
        case "upload_concurrency", "parallel_parts": uploadConcurrency = try Self.number(name, need(), 1...64)
        case "readahead", "max_prefetch": readahead = try Self.size(name, need(), min: 0)
        case "read_part_size", "get_size":
            let b = try Self.size(name, need(), min: 64 << 10)
            guard b <= 256 << 20 else { throw ParseError("\(name) must be 64K to 256M") }
            readPartSize = b
        case "fill_max": fillMax = try Self.size(name, need(), min: 0)
        case "files_ahead": filesAhead = try Self.number(name, need(), 0...256)
        case "prefetch_memory": prefetchMemory = try Self.size(name, need(), min: 1 << 20)
        case "memory_limit": memoryLimit = try Self.size(name, need(), min: 16 << 20)
        default:
            throw ParseError("unknown option \"\(name)\" (see `bucketfs --help` for the options)")
        }
    }

    /// Options handed to libfuse and the kernel.
    public var kernelOptions: [String] {
        var o = ["fsname=\(fsname ?? "bucketfs:" + bucket + (prefix.isEmpty ? "" : "/" + prefix))", "subtype=bucketfs",
                 "default_permissions"]
        if readOnly { o.append("ro") }
        if allowOther { o.append("allow_other") }
        if allowRoot { o.append("allow_root") }
        return o.map { $0.replacingOccurrences(of: ",", with: "\\,") }
    }
}

import Foundation

/// `metrics=HOST:PORT`, `:PORT` or `PORT` (host 127.0.0.1).
enum MetricsSpec {
    static func parse(_ spec: String) -> (host: String, port: Int)? {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let port = Int(parts.last ?? ""), (0...65535).contains(port) else { return nil }
        let host = parts.count == 2 && !parts[0].isEmpty ? String(parts[0]) : "127.0.0.1"
        return (host, port)
    }
}
