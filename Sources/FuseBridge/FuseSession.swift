import BucketFSCore
import CFuse3
import Dispatch
import Glibc
import Logging

/// Signal plumbing that must be set up before any thread exists: TERM, INT and HUP are blocked
/// in every thread and handled by a dispatch source; SIGUSR2 gets a no-op handler without
/// SA_RESTART, so sending it to the loop thread interrupts its wait.
public enum MountSignals {
    public static func blockTerminationSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        // An inherited "ignore" would make the kernel drop the signal before anyone sees it.
        for s in [SIGTERM, SIGINT, SIGHUP] { signal(s, SIG_DFL); sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        var act = sigaction()
        act.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&act.sa_mask)
        act.sa_flags = 0
        sigaction(SIGUSR2, &act, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    /// See `bucketfs_tune_malloc` in the CFuse3 shim.
    public static func tuneMemory() { bucketfs_tune_malloc() }
}

/// A mounted FUSE session: mount, serve until unmounted or signalled, then drain replies,
/// unmount and destroy, in that order.
public final class FuseMount: @unchecked Sendable {
    let context: FuseContext
    let mountpoint: String
    let logger: Logger
    private var session: OpaquePointer?
    private var loopThread = pthread_t()
    private var signalSources: [DispatchSourceSignal] = []
    private let threads: Int

    /// `options` are kernel/libfuse mount options (`allow_other`, `ro`, `fsname=...`).
    public init(fs: BucketFileSystem, mountpoint: String, options: [String], threads: Int = 8, logger: Logger) throws {
        self.context = FuseContext(fs: fs, logger: logger)
        self.mountpoint = mountpoint
        self.logger = logger
        self.threads = threads
        var argv = ["bucketfs"]
        if !options.isEmpty { argv += ["-o", options.joined(separator: ",")] }
        var cargs = argv.map { strdup($0) }
        defer { cargs.forEach { free($0) } }
        var ops = FuseOperations.make()
        let userdata = Unmanaged.passRetained(context).toOpaque()
        session = cargs.withUnsafeMutableBufferPointer { buf -> OpaquePointer? in
            var args = fuse_args(argc: Int32(buf.count), argv: buf.baseAddress, allocated: 0)
            let se = bucketfs_session_new(&args, &ops, userdata)
            fuse_opt_free_args(&args)
            return se
        }
        guard session != nil else {
            Unmanaged<FuseContext>.fromOpaque(userdata).release()
            throw FSError(EINVAL, "libfuse refused the mount options \(options.joined(separator: ","))")
        }
        guard fuse_session_mount(session, mountpoint) == 0 else {
            fuse_session_destroy(session)
            session = nil
            throw FSError(EIO, "cannot mount on \(mountpoint) (see the message above)")
        }
        context.invalidator.attach(session)
        if let se = session, !ParallelDirops.install(se) {
            logger.notice("libfuse refused its I/O hook: lookups and listings of one directory run one at a time")
        }
        // From /proc/self/mountinfo: a stat() of the mount point would wait for the loop.
        if let info = MountInfo.of(mountpoint) {
            let invalidator = context.invalidator
            fs.mounted(as: info) { ino in await invalidator.invalidate(ino, offset: 0, length: 0) }
            raiseReadahead(device: info.device)
        }
    }

    /// Raises the kernel's read-ahead for this mount (best effort: needs root).
    private func raiseReadahead(device: String) {
        guard let out = fopen("/sys/class/bdi/\(device)/read_ahead_kb", "w") else { return }
        fputs("16384", out)
        fclose(out)
    }

    /// Serves requests on the calling thread (and libfuse's workers) until the filesystem is
    /// unmounted or a termination signal arrives; then drains and unmounts. Returns 0 on a clean end.
    public func run() -> Int32 {
        loopThread = pthread_self()
        let thread = loopThread
        let se = session
        for sig in [SIGTERM, SIGINT, SIGHUP] {
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            src.setEventHandler { [logger] in
                logger.info("signal \(sig): unmounting")
                fuse_session_exit(se)
                pthread_kill(thread, SIGUSR2)
            }
            src.resume()
            signalSources.append(src)
        }
        let cfg = fuse_loop_cfg_create()
        fuse_loop_cfg_set_max_threads(cfg, UInt32(threads))
        fuse_loop_cfg_set_clone_fd(cfg, 0)
        let rc = bucketfs_session_loop_mt(session, cfg)
        fuse_loop_cfg_destroy(cfg)
        signalSources.forEach { $0.cancel() }
        context.drain(seconds: 30)
        let fs = context.fs
        let finished = DispatchSemaphore(value: 0)
        Task {
            await fs.shutdown()
            finished.signal()
        }
        finished.wait()
        context.invalidator.detach()
        fuse_session_unmount(session)
        fuse_session_destroy(session)
        session = nil
        return rc < 0 ? 1 : 0
    }
}
