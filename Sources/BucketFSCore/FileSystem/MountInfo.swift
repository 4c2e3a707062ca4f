/// This process's view of a mount in /proc/self/mountinfo: the mount ID that /proc/PID/fdinfo
/// names (`mnt_id`) and the device (`major:minor`) whose bdi settings apply to it.
public struct MountInfo: Sendable, Equatable {
    public var id: Int
    public var device: String

    /// The newest mount on `mountpoint`, if any.
    public static func of(_ mountpoint: String) -> MountInfo? {
        guard let text = ProcFile.read("/proc/self/mountinfo", limit: 1 << 22) else { return nil }
        var found: MountInfo?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            // Mount points with spaces are escaped as \040 in mountinfo.
            guard fields.count > 4, fields[4].replacingOccurrences(of: "\\040", with: " ") == mountpoint,
                  let id = Int(fields[0]) else { continue }
            found = MountInfo(id: id, device: String(fields[2]))
        }
        return found
    }
}
