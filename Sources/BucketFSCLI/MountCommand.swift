import ArgumentParser
import BucketFSCore
import FuseBridge
import Foundation
import Glibc
import Logging
import S3

/// `bucketfs BUCKET[:/PREFIX] MOUNTPOINT [-o opt,...]`: checks the bucket and credentials,
/// mounts, and (without -f) returns once the mount is live.
public struct MountCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Mount a bucket (or a prefix of one) on a directory.",
        discussion: """
        Options (-o, comma-separated; s3fs names where s3fs has one): ro, allow_other, allow_root, nonempty, \
        uid=N, gid=N, umask=OCT, file_mode=OCT, dir_mode=OCT, url=URL, endpoint=REGION|URL, region=R, \
        use_path_request_style, virtual_hosted, sigv2, sigv4, ca_bundle=FILE, no_check_certificate, passwd_file=FILE, \
        profile=NAME, cache_dir=DIR, cache_size=SIZE, mem_cache_size=SIZE, block_size=SIZE, readahead=SIZE, fill_max=SIZE, files_ahead=N, read_part_size=SIZE, prefetch_memory=SIZE, memory_limit=SIZE, \
        metadata_ttl=SEC, negative_ttl=SEC, posix_metadata, list_attributes, listobjectsv1, max_connections=N, \
        retries=N, connect_timeout=SEC, request_timeout=SEC, threads=N, max_parts=N, logfile=FILE, dbglevel=LEVEL, \
        upload_retry=SEC, unmount_sync=SEC, metrics=HOST:PORT, debug, fsname=NAME. README.md documents each.
        """)

    @Argument(help: "BUCKET or BUCKET:/PREFIX")
    var source: String

    @Argument(help: "An existing, empty directory.")
    var mountpoint: String

    @Option(name: .customShort("o"), help: "Mount options, comma-separated (see below).")
    var options: [String] = []

    @Flag(name: [.customShort("f"), .customLong("foreground")], help: "Stay in the foreground and log to standard error.")
    var foreground = false

    @Flag(name: [.customShort("d"), .customLong("debug")], help: "Debug logging (implies nothing else).")
    var debug = false

    @Flag(name: .customLong("read-only"), help: "Same as -o ro.")
    var readOnly = false

    @Option(name: .customLong("url"), help: "Endpoint URL (same as -o url=).")
    var url: String?

    @Option(name: .customLong("region"), help: "Region (same as -o region=).")
    var region: String?

    @Option(name: .customLong("profile"), help: "Credential profile (same as -o profile=).")
    var profile: String?

    @Option(name: .customLong("ready-fd"), help: .hidden)
    var readyFd: Int32?

    public init() {}

    func settings() throws -> MountSettings {
        let (bucket, prefix) = try MountSettings.parseSource(source)
        var s = MountSettings(bucket: bucket, prefix: prefix, mountpoint: mountpoint)
        for o in options { try s.apply(options: o) }
        if readOnly { s.readOnly = true }
        if let url { s.connection.url = url }
        if let region { s.connection.region = region }
        if let profile { s.connection.profile = profile }
        s.foreground = foreground
        s.debug = s.debug || debug
        return s
    }

    public func validate() throws {
        do { _ = try settings() } catch let e as MountSettings.ParseError { throw ValidationError(e.description) }
    }

    public func run() throws {
        var s = try settings()
        if let real = realpath(s.mountpoint, nil) { s.mountpoint = String(cString: real); free(real) }
        if !s.foreground && readyFd == nil {
            // The options are already checked; the child repeats them with -f.
            let code = Daemon.launchAndWait(arguments: Array(CommandLine.arguments.dropFirst()), logFile: s.logFile)
            throw ExitCode(code)
        }
        MountSignals.blockTerminationSignals()
        // Resident memory follows the caches' caps instead of glibc's high-water marks.
        MountSignals.tuneMemory()
        let daemonized = ProcessInfo.processInfo.environment["BUCKETFS_DAEMON"] == "1"
        var logFd: Int32 = -1
        if let f = s.logFile { logFd = open(f, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600) }
        let destination: LogDestination = logFd >= 0 ? .file(logFd) : (daemonized ? .syslog : .standardError)
        LogSetup.install(level: LogSetup.level(s.logLevel, debug: s.debug), destination: destination)
        let logger = Logger(label: "bucketfs")
        var endpointText: String?
        var opened: S3Client?
        // The client's connection pool must be shut down on every path out.
        defer { if let c = opened { try? Blocking.run { try await c.shutdown() } } }
        // The Prometheus backend first, so that everything that records finds it.
        let registry = s.metrics != nil ? MetricsServer.bootstrap() : nil
        do {
            try Self.checkMountpoint(s)
            if !s.readOnly { try Self.makeDirectories(s.stagingDirectory) }
            let client = try s.connection.makeClient(logger: logger)
            opened = client
            endpointText = client.endpoint.urlString
            let bucket = s.bucket
            let head = try Blocking.run { try await client.headBucket(bucket, retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(200))) }
            var config = s.fileSystemConfig
            if s.maxParts == nil && head.maxParts < config.maxParts {
                // Swift s3api refuses part numbers above 1,000: uploads are planned for that.
                config.maxParts = head.maxParts
                logger.notice("the server is OpenStack Swift s3api: uploads use at most \(head.maxParts) parts (max_parts=\(head.maxParts))")
            }
            let fs = try BucketFileSystem(client: client, config: config, logger: logger)
            let mount = try FuseMount(fs: fs, mountpoint: s.mountpoint, options: s.kernelOptions,
                                      threads: s.threads ?? 8, logger: logger)
            var metricsServer: MetricsServer?
            if let (host, port) = s.metrics, let registry {
                do {
                    metricsServer = try MetricsServer(registry: registry, fs: fs, host: host, port: port)
                } catch {
                    throw MountFailure("cannot serve metrics on \(host):\(port): \(error)")
                }
                logger.notice("metrics on http://\(host):\(metricsServer?.port ?? port)/metrics")
            }
            defer { metricsServer?.stop() }
            let source = s.bucket + (s.prefix.isEmpty ? "" : ":/" + s.prefix)
            let control = ControlServer(fs: fs, mountpoint: s.mountpoint, info: [
                "bucket": s.bucket, "prefix": s.prefix, "mountpoint": s.mountpoint, "endpoint": client.endpoint.urlString,
                "region": client.endpoint.region, "options": options.joined(separator: ","), "version": BucketFSVersion.current,
                "pid": Int(getpid()), "read_only": s.readOnly])
            if !control.start() { logger.warning("no control socket at \(control.path): bucketfs status and sync cannot reach this mount") }
            defer { control.stop() }
            ReadinessProbe.start(mountpoint: s.mountpoint, readyFd: readyFd, status: "serving \(source) on \(s.mountpoint)")
            logger.notice("mounted \(source) on \(s.mountpoint) (\(client.endpoint.urlString))")
            let rc = mount.run()
            SystemdNotify.send("STOPPING=1")
            logger.notice("unmounted \(s.mountpoint)")
            throw ExitCode(rc)
        } catch let e as ExitCode {
            throw e
        } catch {
            let (message, code) = explain(error, bucket: s.bucket, endpoint: endpointText)
            printError("bucketfs: \(message)")
            Daemon.report(fd: readyFd, "bucketfs: \(message)")
            throw ExitCode(code.rawValue)
        }
    }

    /// `mkdir -p` with mode 0700 for the parts it creates.
    static func makeDirectories(_ path: String) throws {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw MountSettings.ParseError("cannot create \(current): \(String(cString: strerror(errno)))")
            }
        }
    }

    static func checkMountpoint(_ s: MountSettings) throws {
        var st = stat()
        guard stat(s.mountpoint, &st) == 0 else {
            throw MountSettings.ParseError("mount point \(s.mountpoint) does not exist")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw MountSettings.ParseError("mount point \(s.mountpoint) is not a directory") }
        if !s.nonempty, let d = opendir(s.mountpoint) {
            defer { closedir(d) }
            while let e = readdir(d) {
                let name = withUnsafePointer(to: e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
                if name != "." && name != ".." {
                    throw MountSettings.ParseError("mount point \(s.mountpoint) is not empty (use -o nonempty to mount over it)")
                }
            }
        }
    }
}


extension MountSettings {
    public var fileSystemConfig: FileSystemConfig {
        var own = OwnershipDefaults(uid: uid ?? getuid(), gid: gid ?? getgid())
        if let u = umask { own.apply(umask: u) }
        if let m = fileMode { own.fileMode = m }
        if let m = dirMode { own.dirMode = m }
        var c = FileSystemConfig(bucket: bucket, ownership: own)
        c.prefix = prefix
        c.readOnly = readOnly
        c.metadataTTL = metadataTTL ?? (readOnly ? 300 : 60)
        c.negativeTTL = negativeTTL ?? (readOnly ? 60 : 5)
        c.posixMetadata = posixMetadata
        c.directIO = directIO
        c.cachedWrites = cachedWrites
        if let b = blockSize { c.blockSize = b }
        if let m = memoryCacheSize { c.memoryCacheBytes = m }
        if let r = readahead { c.maxPrefetchWindow = r }
        if let f = fillMax { c.fillMaxBytes = f }
        if let f = filesAhead { c.filesAhead = f }
        if let r = readPartSize { c.chunkSize = r }
        if let m = prefetchMemory { c.maxPrefetchInflight = m }
        // A larger memory cache asked for without a bound raises the bound with it, keeping the
        // default's 16 MiB beside the cache for the other buffers.
        if let m = memoryLimit { c.memoryLimit = m } else if let m = memoryCacheSize { c.memoryLimit = max(c.memoryLimit, m + (16 << 20)) }
        c.diskCacheDirectory = cacheDir
        if let cs = cacheSize { c.diskCacheBytes = cs }
        c.stagingDirectory = stagingDirectory
        if let m = maxParts { c.maxParts = m }
        if let p = partSize { c.partSize = p }
        if let r = uploadRetry { c.uploadRetryInterval = max(1, r) }
        if let u = unmountSync { c.unmountSyncSeconds = u }
        if let u = uploadConcurrency { c.uploadConcurrency = u }
        return c
    }

    /// `staging_dir=`, else `CACHE_DIR/staging`, else `$XDG_CACHE_HOME/bucketfs/staging`
    /// (`~/.cache/bucketfs/staging`), else `/var/tmp/bucketfs-UID/staging`.
    public var stagingDirectory: String {
        if let d = stagingDir { return d }
        if let c = cacheDir { return c + "/staging" }
        let env = ProcessInfo.processInfo.environment
        if let x = env["XDG_CACHE_HOME"], x.hasPrefix("/") { return x + "/bucketfs/staging" }
        if let h = env["HOME"], h.hasPrefix("/"), h != "/" { return h + "/.cache/bucketfs/staging" }
        return "/var/tmp/bucketfs-\(getuid())/staging"
    }
}

/// A mount that cannot go on, said in one sentence.
struct MountFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
