// s3bench: the raw S3 client's throughput, the limit the mount is held to, plus a `put` for
// scripts. Endpoint and keys come from the AWS_* environment, as for `bucketfs`.
//   s3bench get BUCKET KEY [--parallel N] [--chunk BYTES] [--touch]
//                                                            parallel ranged GETs of one object; --touch reads
//                                                            every byte received (as a program reading a file does)
//   s3bench randget BUCKET KEY --size BYTES --parallel N --seconds S
//                                                            ranged GETs of SIZE at random aligned offsets, N at once
//   s3bench put-multipart BUCKET KEY SIZE [--parallel N] [--part BYTES]
//   s3bench put-small BUCKET PREFIX COUNT [--size BYTES] [--parallel N] [--meta]
//   s3bench put-varied BUCKET PREFIX COUNT --min BYTES --max BYTES [--dirs N] [--parallel N]
//                                                            COUNT objects of sizes from MIN to MAX (fixed by
//                                                            their number) as PREFIXdNN/fNNNNN, in N directories
//   s3bench get-all BUCKET PREFIX [--parallel N]             LIST every key under PREFIX, then GET each whole
//                                                            object, N at once, reading every byte
//   s3bench list BUCKET PREFIX                               every LIST page of a prefix
//   s3bench put BUCKET KEY FILE                              upload one local file
//   s3bench head BUCKET KEY                                  print the object's size (-1 if missing)
//   s3bench copy BUCKET KEY NEWKEY                           server-side copy (multipart above 5 GiB: not done)
//   s3bench copy-parts BUCKET KEY NEWKEY SIZE [--part BYTES] [--parallel N]
//                                                            the first SIZE bytes copied as UploadPartCopy parts
import Foundation
import NIOCore
import S3

@main
struct S3Bench {
    static func fail(_ s: String) -> Never {
        FileHandle.standardError.write(Data("s3bench: \(s)\n".utf8))
        exit(2)
    }

    static func option(_ args: [String], _ name: String, _ def: Int) -> Int {
        guard let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) else { return def }
        return v
    }

    static func main() async {
        let args = Array(CommandLine.arguments.dropFirst())
        guard let cmd = args.first else { fail("usage: see the comment at the top of Sources/s3bench/main.swift") }
        let env = ProcessInfo.processInfo.environment
        let client: S3Client
        do {
            let creds = try CredentialChain.resolve(CredentialSources(environment: env))
            var cfg = S3ClientConfiguration(endpoint: try S3Endpoint.resolve(url: nil, region: nil, environment: env))
            cfg.maxConnections = 64
            client = try S3Client(configuration: cfg, credentials: creds)
        } catch { fail("\(error)") }
        let clock = ContinuousClock()
        let start = clock.now
        func seconds() -> Double { let d = clock.now - start; return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        do {
            switch cmd {
            case "get":
                guard args.count >= 3 else { fail("get BUCKET KEY") }
                let (bucket, key) = (args[1], args[2])
                let parallel = option(args, "--parallel", 8), chunk = option(args, "--chunk", 8 << 20)
                let touch = args.contains("--touch")
                let sink = Sum()
                let size = try await client.headObject(bucket, key: key).size
                let next = Counter()
                try await withThrowingTaskGroup(of: Void.self) { g in
                    for _ in 0..<parallel {
                        g.addTask {
                            let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
                            defer { buf.deallocate() }
                            while true {
                                let off = Int64(next.next()) * Int64(chunk)
                                if off >= size { return }
                                let end = min(size, off + Int64(chunk)) - 1
                                let n = try await client.getObject(bucket, key: key, range: off...end,
                                                                   into: UnsafeDestination(base: buf.baseAddress!, count: chunk)).count
                                if touch { sink.add(checksum(UnsafeRawBufferPointer(rebasing: buf[0..<n]))) }
                            }
                        }
                    }
                    try await g.waitForAll()
                }
                let s = seconds()
                print(String(format: "get %d bytes in %.3f s: %.0f MB/s", size, s, Double(size) / s / 1e6))
                if touch { FileHandle.standardError.write(Data("s3bench: checksum \(sink.value)\n".utf8)) }
            case "randget":
                guard args.count >= 3 else { fail("randget BUCKET KEY") }
                let (bucket, key) = (args[1], args[2])
                let parallel = option(args, "--parallel", 4), chunk = option(args, "--size", 4096), secs = option(args, "--seconds", 10)
                let size = try await client.headObject(bucket, key: key).size
                let slots = max(1, size / Int64(chunk))
                let done = Counter()
                let stop = ContinuousClock.now + .seconds(secs)
                try await withThrowingTaskGroup(of: Void.self) { g in
                    for _ in 0..<parallel {
                        g.addTask {
                            let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
                            defer { buf.deallocate() }
                            while ContinuousClock.now < stop {
                                let off = Int64.random(in: 0..<slots) * Int64(chunk)
                                let end = min(size, off + Int64(chunk)) - 1
                                _ = try await client.getObject(bucket, key: key, range: off...end,
                                                               into: UnsafeDestination(base: buf.baseAddress!, count: chunk))
                                _ = done.next()
                            }
                        }
                    }
                    try await g.waitForAll()
                }
                let n = done.next()
                let s = seconds()
                print(String(format: "randget %d GETs of %d bytes in %.3f s: %.0f GET/s", n, chunk, s, Double(n) / s))
            case "put-multipart":
                guard args.count >= 4, let size = Int(args[3]) else { fail("put-multipart BUCKET KEY SIZE") }
                let (bucket, key) = (args[1], args[2])
                let parallel = option(args, "--parallel", 4), part = option(args, "--part", 8 << 20)
                var data = ByteBufferAllocator().buffer(capacity: part)
                data.writeBytes((0..<part).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
                let body = data
                let id = try await client.createMultipartUpload(bucket, key: key)
                let count = (size + part - 1) / part
                let parts = Locked<[CompletedPart]>([])
                try await eachIndex(count, parallel: parallel) { i in
                    let n = i + 1
                    let len = min(part, size - i * part)
                    let slice = body.getSlice(at: 0, length: len)!
                    let etag = try await client.uploadPart(bucket, key: key, uploadId: id, partNumber: n, body: slice)
                    parts.mutate { $0.append(CompletedPart(partNumber: n, etag: etag)) }
                }
                try await client.completeMultipartUpload(bucket, key: key, uploadId: id, parts: parts.value)
                let s = seconds()
                print(String(format: "multipart upload %d bytes in %.3f s: %.0f MB/s", size, s, Double(size) / s / 1e6))
            case "put-small":
                guard args.count >= 4, let count = Int(args[3]) else { fail("put-small BUCKET PREFIX COUNT") }
                let (bucket, prefix) = (args[1], args[2])
                let size = option(args, "--size", 4096), parallel = option(args, "--parallel", 1)
                let body = ByteBuffer(bytes: [UInt8](repeating: 120, count: size))
                // --meta: the s3fs metadata a mount stores with each file.
                let meta: [String: String] = args.contains("--meta")
                    ? ["mode": "33188", "uid": "0", "gid": "0", "mtime": "1795650000"] : [:]
                try await eachIndex(count, parallel: parallel) { n in
                    try await client.putObject(bucket, key: "\(prefix)\(String(format: "%05d", n))", body: body, metadata: meta)
                }
                let s = seconds()
                print(String(format: "%d PUTs of %d bytes in %.3f s: %.0f PUT/s", count, size, s, Double(count) / s))
            case "put-varied":
                guard args.count >= 4, let count = Int(args[3]) else { fail("put-varied BUCKET PREFIX COUNT") }
                let (bucket, prefix) = (args[1], args[2])
                let lo = option(args, "--min", 512), hi = max(lo, option(args, "--max", 256 << 10))
                let dirs = max(1, option(args, "--dirs", 1)), parallel = option(args, "--parallel", 16)
                let pattern = ByteBuffer(bytes: (0..<(hi + 4096)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) })
                let total = Total()
                try await eachIndex(count, parallel: parallel) { n in
                    // Sizes spread evenly over [lo, hi] by a fixed hash of the number.
                    let size = lo + Int((UInt64(n) &* 0x9E37_79B9_7F4A_7C15) >> 40) % (hi - lo + 1)
                    let body = pattern.getSlice(at: n % 4096, length: size) ?? ByteBuffer()
                    let key = prefix + String(format: "d%02d/f%05d", n % dirs, n)
                    try await client.putObject(bucket, key: key, body: body)
                    total.add(UInt64(size))
                }
                let s = seconds()
                print(String(format: "%d PUTs, %llu bytes in %.3f s", count, total.value, s))
            case "get-all":
                guard args.count >= 3 else { fail("get-all BUCKET PREFIX") }
                let (bucket, prefix) = (args[1], args[2])
                let parallel = option(args, "--parallel", 16)
                var keys: [String] = []
                var req = ListObjectsRequest(prefix: prefix)
                while true {
                    let p = try await client.listObjects(bucket, req)
                    keys += p.objects.map(\.key)
                    guard let t = p.nextToken else { break }
                    req.continuationToken = t
                }
                let all = keys
                let sink = Sum(), bytes = Total()
                try await eachIndex(all.count, parallel: parallel) { n in
                    let out = try await client.getObject(bucket, key: all[n])
                    if let body = out.body {
                        body.withUnsafeReadableBytes { sink.add(checksum($0)) }
                        bytes.add(UInt64(body.readableBytes))
                    }
                }
                let s = seconds()
                print(String(format: "get-all %d objects, %llu bytes in %.3f s", all.count, bytes.value, s))
            case "list":
                guard args.count >= 3 else { fail("list BUCKET PREFIX") }
                var pages = 0, objects = 0
                var req = ListObjectsRequest(prefix: args[2], delimiter: "/")
                while true {
                    let p = try await client.listObjects(args[1], req)
                    pages += 1
                    objects += p.objects.count + p.commonPrefixes.count
                    guard let t = p.nextToken else { break }
                    req.continuationToken = t
                }
                let s = seconds()
                print(String(format: "list %d entries in %d pages in %.3f s: %.1f pages/s", objects, pages, s, Double(pages) / s))
            case "put":
                guard args.count >= 4 else { fail("put BUCKET KEY FILE") }
                guard let data = FileManager.default.contents(atPath: args[3]) else { fail("cannot read \(args[3])") }
                try await client.putObject(args[1], key: args[2], body: ByteBuffer(bytes: data))
            case "head":
                guard args.count >= 3 else { fail("head BUCKET KEY") }
                do {
                    print(try await client.headObject(args[1], key: args[2]).size)
                } catch let e as S3Error where e.errno == ENOENT {
                    print(-1)
                }
            case "copy":
                guard args.count >= 4 else { fail("copy BUCKET KEY NEWKEY") }
                try await client.copyObject(from: args[1], key: args[2], to: args[1], key: args[3])
            case "copy-parts":
                guard args.count >= 5, let size = Int64(args[4]) else { fail("copy-parts BUCKET KEY NEWKEY SIZE [--part BYTES] [--parallel N]") }
                let (bucket, key, newKey) = (args[1], args[2], args[3])
                let part = Int64(option(args, "--part", 128 << 20)), parallel = option(args, "--parallel", 4)
                guard part >= 5 << 20, parallel > 0 else { fail("--part is 5 MiB at least, --parallel 1 at least") }
                let id = try await client.createMultipartUpload(bucket, key: newKey)
                let ranges = stride(from: Int64(0), to: size, by: Int(part)).map { $0...min($0 + part, size) - 1 }
                let done = Locked<[CompletedPart]>([])
                try await eachIndex(ranges.count, parallel: parallel) { n in
                    let etag = try await client.uploadPartCopy(bucket, key: newKey, uploadId: id, partNumber: n + 1,
                                                               sourceBucket: bucket, sourceKey: key, range: ranges[n])
                    done.mutate { $0.append(CompletedPart(partNumber: n + 1, etag: etag)) }
                }
                try await client.completeMultipartUpload(bucket, key: newKey, uploadId: id, parts: done.value)
                print(String(format: "copied %d bytes in %d parts of %d in %.3f s", size, ranges.count, part, seconds()))
            default:
                fail("unknown command \(cmd)")
            }
        } catch {
            try? await client.shutdown()
            fail("\(error)")
        }
        try? await client.shutdown()
    }
}

/// Runs `body` for 0..<count, `parallel` at a time, each index once, in order of start.
func eachIndex(_ count: Int, parallel: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
    let next = Counter()
    try await withThrowingTaskGroup(of: Void.self) { g in
        for _ in 0..<max(1, parallel) {
            g.addTask {
                while true {
                    let n = next.next()
                    if n >= count { return }
                    try await body(n)
                }
            }
        }
        try await g.waitForAll()
    }
}

/// XOR of the buffer's 64-bit words: every byte is read once.
func checksum(_ b: UnsafeRawBufferPointer) -> UInt64 {
    var x: UInt64 = 0
    let words = b.count / 8
    for i in 0..<words { x ^= b.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) }
    for i in (words * 8)..<b.count { x ^= UInt64(b[i]) }
    return x
}

final class Sum: @unchecked Sendable {
    private let lock = NSLock()
    private var x: UInt64 = 0
    func add(_ v: UInt64) { lock.lock(); x ^= v; lock.unlock() }
    var value: UInt64 { lock.lock(); defer { lock.unlock() }; return x }
}

/// A running total (`Sum` folds checksums).
final class Total: @unchecked Sendable {
    private let lock = NSLock()
    private var x: UInt64 = 0
    func add(_ v: UInt64) { lock.lock(); x += v; lock.unlock() }
    var value: UInt64 { lock.lock(); defer { lock.unlock() }; return x }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func next() -> Int { lock.lock(); defer { lock.unlock() }; n += 1; return n - 1 }
}

final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var v: T
    init(_ v: T) { self.v = v }
    func mutate(_ f: (inout T) -> Void) { lock.lock(); f(&v); lock.unlock() }
    var value: T { lock.lock(); defer { lock.unlock() }; return v }
}
