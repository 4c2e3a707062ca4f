import Foundation
import Glibc

/// Says the mount is ready only once it serves: a thread stats the mount point, which the kernel
/// answers through the FUSE loop, then tells the waiting parent (background mounts) and systemd.
enum ReadinessProbe {
    static func start(mountpoint: String, readyFd: Int32?, status: String) {
        Thread.detachNewThread {
            var st = stat()
            _ = stat(mountpoint, &st)
            Daemon.report(fd: readyFd, Daemon.readyMessage)
            SystemdNotify.send("READY=1\nSTATUS=\(status)")
        }
    }
}
