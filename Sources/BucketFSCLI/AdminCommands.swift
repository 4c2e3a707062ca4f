import ArgumentParser
import Foundation
import Logging
import S3

/// Connection options shared by the admin commands.
struct ConnectionOptions: ParsableArguments {
    @Option(name: [.customLong("url"), .customLong("endpoint-url")], help: "Endpoint URL (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or AWS).")
    var url: String?
    @Option(help: "Region (default: AWS_REGION, AWS_DEFAULT_REGION, or us-east-1).")
    var region: String?
    @Option(help: "Credential profile.")
    var profile: String?
    @Option(name: .customLong("passwd-file"), help: "s3fs-style passwd file.")
    var passwdFile: String?
    @Flag(help: "Sign with AWS Signature Version 2.")
    var sigv2 = false
    @Flag(name: .customLong("path-style"), help: "Path-style URLs.")
    var pathStyle = false
    @Option(name: .customLong("ca-bundle"), help: "Extra CA certificates (PEM).")
    var caBundle: String?
    @Option(help: "kr1: the service's region KR1 with path-style URLs and SigV4 (the URL still comes from --url, the profile or the environment).")
    var preset: String?
    @Flag(help: "Emit JSON instead of a table.")
    var json = false
    @Flag(name: .customShort("d"), help: "Debug logging.")
    var debug = false

    func client(bucket: String? = nil) throws -> S3Client {
        LogSetup.install(level: debug ? .debug : .warning, destination: .standardError)
        var c = ConnectionSettings()
        c.url = url
        c.region = region
        c.profile = profile
        c.passwdFile = passwdFile
        c.signature = sigv2 ? .v2 : .v4
        c.addressing = pathStyle ? .path : .auto
        c.caBundle = caBundle
        if let p = preset {
            guard p.lowercased() == "kr1" else { throw ValidationError("unknown preset \(p); known: kr1") }
            c.region = region ?? "KR1"
            c.addressing = .path
            c.signature = .v4
        }
        c.bucket = bucket
        c.retries = 3
        c.connectTimeout = 5
        return try c.makeClient(logger: Logger(label: "bucketfs"))
    }
}

/// Runs an admin action with a client, prints one clear line on failure, exits with the code.
func runAdmin(_ options: ConnectionOptions, bucket: String? = nil, _ body: @escaping @Sendable (S3Client) async throws -> Void) throws {
    var endpoint: String?
    do {
        let client = try options.client(bucket: bucket)
        endpoint = client.endpoint.urlString
        defer { try? Blocking.run { try await client.shutdown() } }
        try Blocking.run { try await body(client) }
    } catch let e as ExitCode {
        throw e
    } catch {
        let (message, code) = explain(error, bucket: bucket, endpoint: endpoint)
        printError("bucketfs: \(message)")
        throw ExitCode(code.rawValue)
    }
}

func printJSON(_ value: Any) {
    if let data = try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys]) {
        print(String(decoding: data, as: UTF8.self))
    }
}

func printTable(_ header: [String], _ rows: [[String]]) {
    let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
            .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }
    print(line(header))
    rows.forEach { print(line($0)) }
}

/// `bucketfs bucket list|create|delete|info|location|acl`.
struct BucketCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bucket", abstract: "Create, list, inspect and delete buckets.",
                                                    subcommands: [List.self, Create.self, Delete.self, Info.self, Location.self, ACL.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List buckets with their creation dates.")
        @OptionGroup var options: ConnectionOptions
        func run() throws {
            let json = options.json
            try runAdmin(options) { c in
                let r = try await c.listBuckets()
                if json {
                    printJSON(r.buckets.map { ["name": $0.name, "created": $0.creationDate?.iso8601 ?? ""] })
                } else {
                    printTable(["NAME", "CREATED"], r.buckets.map { [$0.name, $0.creationDate?.iso8601 ?? "-"] })
                }
            }
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a bucket in a region (LocationConstraint).")
        @OptionGroup var options: ConnectionOptions
        @Argument var bucket: String
        @Option(help: "LocationConstraint (default: the region, none for us-east-1).") var location: String?
        @Option(help: "Canned ACL: \(CannedACL.allCases.map(\.rawValue).joined(separator: ", ")).") var acl: String?
        func validate() throws {
            do { try BucketName.validate(bucket) } catch { throw ValidationError("\(error)") }
            if let a = acl, CannedACL(rawValue: a) == nil { throw ValidationError("unknown canned ACL \(a)") }
        }
        func run() throws {
            let bucket = bucket, location = location, acl = acl.flatMap(CannedACL.init(rawValue:))
            try runAdmin(options, bucket: bucket) { c in
                let region = c.endpoint.region
                try await c.createBucket(bucket, locationConstraint: location ?? (region == "us-east-1" ? nil : region), acl: acl)
                print("created \(bucket)")
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a bucket (with --force, its objects and incomplete uploads first).")
        @OptionGroup var options: ConnectionOptions
        @Argument var bucket: String
        @Flag(help: "Delete every object and incomplete upload first, showing progress.") var force = false
        func run() throws {
            let bucket = bucket, force = force
            try runAdmin(options, bucket: bucket) { c in
                if force {
                    let progress = ProgressLine()
                    var deleted = 0
                    for u in try await c.listAllMultipartUploads(bucket) {
                        try await c.abortMultipartUpload(bucket, key: u.key, uploadId: u.uploadId)
                    }
                    // A page at a time: never the whole bucket's keys in memory.
                    var token: String?
                    repeat {
                        var req = ListObjectsRequest(maxKeys: 1000)
                        req.continuationToken = token
                        let page = try await c.listObjects(bucket, req)
                        let keys = page.objects.map(\.key)
                        if !keys.isEmpty {
                            let result = try await c.deleteObjects(bucket, keys: keys)
                            if let e = result.errors.first {
                                progress.finish()
                                printError("bucketfs: cannot delete \(e.key): \(e.code) \(e.message)")
                                throw ExitCode(ExitStatus.failure.rawValue)
                            }
                            deleted += keys.count
                            progress.update("deleting \(bucket): \(deleted) object(s) deleted")
                        }
                        token = page.nextToken
                    } while token != nil
                    progress.finish()
                    print("\(deleted) object(s) deleted")
                }
                do {
                    try await c.deleteBucket(bucket)
                } catch let e as S3Error where e.code == "BucketNotEmpty" {
                    printError("bucketfs: bucket \(bucket) is not empty; delete its objects first")
                    throw ExitCode(ExitStatus.failure.rawValue)
                }
                print("deleted \(bucket)")
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a bucket's existence, location, ACL and server.")
        @OptionGroup var options: ConnectionOptions
        @Argument var bucket: String
        func run() throws {
            let bucket = bucket, json = options.json
            try runAdmin(options, bucket: bucket) { c in
                let head = try await c.headBucket(bucket)
                let location = try await c.getBucketLocation(bucket)
                let acl = try? await c.getBucketACL(bucket)
                let grants = acl?.grants.map { "\($0.granteeText):\($0.permission)" } ?? []
                let server = head.isOpenStackSwift ? "OpenStack Swift s3api" : "S3"
                if json {
                    printJSON(["bucket": bucket, "location": location, "owner": acl?.owner.id ?? "", "grants": grants,
                               "server": server, "max_parts": head.maxParts])
                } else {
                    print("bucket:   \(bucket)\nlocation: \(location)\nowner:    \(acl?.owner.id ?? "-")\ngrants:   \(grants.joined(separator: ", "))"
                          + "\nserver:   \(server) (at most \(head.maxParts) parts per upload)")
                }
            }
        }
    }

    struct Location: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a bucket's location (region).")
        @OptionGroup var options: ConnectionOptions
        @Argument var bucket: String
        func run() throws {
            let bucket = bucket
            try runAdmin(options, bucket: bucket) { c in print(try await c.getBucketLocation(bucket)) }
        }
    }

    struct ACL: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "acl", abstract: "Show a bucket's ACL, or set a canned ACL.")
        @OptionGroup var options: ConnectionOptions
        @Argument var bucket: String
        @Option(help: "Set this canned ACL: \(CannedACL.allCases.map(\.rawValue).joined(separator: ", ")).") var set: String?
        func validate() throws {
            if let a = set, CannedACL(rawValue: a) == nil { throw ValidationError("unknown canned ACL \(a)") }
        }
        func run() throws {
            let bucket = bucket, canned = set.flatMap(CannedACL.init(rawValue:)), json = options.json
            try runAdmin(options, bucket: bucket) { c in
                if let canned { try await c.putBucketACL(bucket, canned: canned) }
                let acl = try await c.getBucketACL(bucket)
                if json {
                    printJSON(["owner": acl.owner.id, "grants": acl.grants.map { ["grantee": $0.granteeText, "permission": $0.permission] }])
                } else {
                    printTable(["GRANTEE", "PERMISSION"], acl.grants.map { [$0.granteeText, $0.permission] })
                }
            }
        }
    }
}

extension Grant {
    var granteeText: String {
        switch grantee {
        case .user(let id, _): return id
        case .group(let uri): return uri.split(separator: "/").last.map(String.init) ?? uri
        case .email(let m): return m
        }
    }
}

/// `bucketfs uploads list|clean BUCKET`: incomplete multipart uploads.
struct UploadsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "uploads", abstract: "List or abort incomplete multipart uploads.",
                                                    subcommands: [List.self, Clean.self])

    struct Row: Sendable {
        var upload: MultipartUpload
        var bytes: Int64
        var parts: Int
    }

    static func rows(_ c: S3Client, _ bucket: String, prefix: String?) async throws -> [Row] {
        var out: [Row] = []
        for u in try await c.listAllMultipartUploads(bucket, prefix: prefix) {
            let parts = (try? await c.listAllParts(bucket, key: u.key, uploadId: u.uploadId)) ?? []
            out.append(Row(upload: u, bytes: parts.reduce(0) { $0 + $1.size }, parts: parts.count))
        }
        return out
    }

    /// Seconds since `t`; a server clock slightly ahead of ours counts as 0.
    static func age(_ t: Timestamp?) -> Int64 { t.map { max(0, Timestamp.now().seconds - $0.seconds) } ?? 0 }

    static func parseAge(_ s: String) -> Int64? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let last = s.last else { return nil }
        if let u = units[last], let n = Int64(s.dropLast()) { return n * u }
        return Int64(s)
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List incomplete uploads with their age and size so far.")
        @OptionGroup var options: ConnectionOptions
        @Argument var bucket: String
        @Option(help: "Only keys under this prefix.") var prefix: String?
        func run() throws {
            let bucket = bucket, prefix = prefix, json = options.json
            try runAdmin(options, bucket: bucket) { c in
                let rows = try await UploadsCommand.rows(c, bucket, prefix: prefix)
                if json {
                    printJSON(rows.map { ["key": $0.upload.key, "upload_id": $0.upload.uploadId, "initiated": $0.upload.initiated?.iso8601 ?? "",
                                          "age_seconds": UploadsCommand.age($0.upload.initiated), "parts": $0.parts, "bytes": $0.bytes] })
                } else {
                    printTable(["KEY", "UPLOAD ID", "INITIATED", "AGE(s)", "PARTS", "BYTES"], rows.map {
                        [$0.upload.key, $0.upload.uploadId, $0.upload.initiated?.iso8601 ?? "-", String(UploadsCommand.age($0.upload.initiated)),
                         String($0.parts), String($0.bytes)]
                    })
                }
            }
        }
    }

    struct Clean: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Abort incomplete uploads older than an age.")
        @OptionGroup var options: ConnectionOptions
        @Argument var bucket: String
        @Option(help: "Only keys under this prefix.") var prefix: String?
        @Option(name: .customLong("older-than"), help: "Age such as 30m, 12h, 7d (default 1d).") var olderThan = "1d"
        @Flag(name: .customLong("dry-run"), help: "Only say what would be aborted.") var dryRun = false
        func validate() throws {
            guard UploadsCommand.parseAge(olderThan) != nil else { throw ValidationError("--older-than: expected an age such as 30m, 12h or 7d") }
        }
        func run() throws {
            let bucket = bucket, prefix = prefix, limit = UploadsCommand.parseAge(olderThan) ?? 86400, dry = dryRun
            try runAdmin(options, bucket: bucket) { c in
                var n = 0
                let old = try await c.listAllMultipartUploads(bucket, prefix: prefix).filter { UploadsCommand.age($0.initiated) >= limit }
                let progress = ProgressLine()
                for u in old {
                    if dry {
                        print("would abort \(u.key) \(u.uploadId)")
                    } else {
                        try await c.abortMultipartUpload(bucket, key: u.key, uploadId: u.uploadId)
                        progress.update("aborting: \(n + 1) of \(old.count) upload(s), last \(u.key)")
                    }
                    n += 1
                }
                progress.finish()
                print("\(n) upload(s) \(dry ? "to abort" : "aborted")")
            }
        }
    }
}

/// The `bucketfs` command.
public struct BucketfsCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "bucketfs",
        abstract: "Mount an S3 bucket as a directory, and manage buckets and uploads.",
        version: BucketFSVersion.current,
        subcommands: [MountCommand.self, StatusCommand.self, SyncCommand.self, BucketCommand.self, UploadsCommand.self, CredentialsCommand.self],
        defaultSubcommand: MountCommand.self)
    public init() {}
}
