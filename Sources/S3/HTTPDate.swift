#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A UTC instant with nanosecond precision and the three text forms S3 uses:
/// ISO 8601 basic (`20150830T123600Z`, SigV4), ISO 8601 extended (`2026-11-25T16:45:09.000Z`,
/// XML listings) and RFC 1123 (`Wed, 25 Nov 2026 16:45:09 GMT`, headers and SigV2).
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var seconds: Int64
    public var nanoseconds: Int32

    public init(seconds: Int64, nanoseconds: Int32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(seconds: Int64(ts.tv_sec), nanoseconds: Int32(ts.tv_nsec))
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }

    public var description: String { iso8601 }

    private var brokenDown: tm {
        var t = time_t(seconds)
        var out = tm()
        gmtime_r(&t, &out)
        return out
    }

    private static func pad(_ v: Int32, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// `20150830T123600Z`
    public var amzDate: String {
        let t = brokenDown
        return Self.pad(t.tm_year + 1900, 4) + Self.pad(t.tm_mon + 1, 2) + Self.pad(t.tm_mday, 2) + "T"
            + Self.pad(t.tm_hour, 2) + Self.pad(t.tm_min, 2) + Self.pad(t.tm_sec, 2) + "Z"
    }

    /// `20150830`
    public var amzDay: String { String(amzDate.prefix(8)) }

    /// `2026-11-25T16:45:09.000Z`
    public var iso8601: String {
        let t = brokenDown
        return Self.pad(t.tm_year + 1900, 4) + "-" + Self.pad(t.tm_mon + 1, 2) + "-" + Self.pad(t.tm_mday, 2) + "T"
            + Self.pad(t.tm_hour, 2) + ":" + Self.pad(t.tm_min, 2) + ":" + Self.pad(t.tm_sec, 2) + "."
            + Self.pad(nanoseconds / 1_000_000, 3) + "Z"
    }

    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Wed, 25 Nov 2026 16:45:09 GMT`
    public var rfc1123: String {
        let t = brokenDown
        return Self.days[Int(t.tm_wday)] + ", " + Self.pad(t.tm_mday, 2) + " " + Self.months[Int(t.tm_mon)] + " "
            + Self.pad(t.tm_year + 1900, 4) + " " + Self.pad(t.tm_hour, 2) + ":" + Self.pad(t.tm_min, 2) + ":"
            + Self.pad(t.tm_sec, 2) + " GMT"
    }

    private static func make(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, nanos: Int) -> Timestamp? {
        guard (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour),
              (0...59).contains(minute), (0...60).contains(second) else { return nil }
        var t = tm()
        t.tm_year = Int32(year - 1900)
        t.tm_mon = Int32(month - 1)
        t.tm_mday = Int32(day)
        t.tm_hour = Int32(hour)
        t.tm_min = Int32(minute)
        t.tm_sec = Int32(second)
        return Timestamp(seconds: Int64(timegm(&t)), nanoseconds: Int32(nanos))
    }

    /// Parses `2026-11-25T16:45:09.000Z` (fraction optional, `Z` or `+00:00`).
    public init?(iso8601 s: String) {
        let b = Array(s.utf8)
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= b.count else { return nil }
            var v = 0
            for i in from..<(from + len) {
                let c = b[i]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard b.count >= 19, let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2),
              let h = num(11, 2), let mi = num(14, 2), let se = num(17, 2) else { return nil }
        var nanos = 0
        var i = 19
        if i < b.count && b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 9 { nanos = nanos * 10 + Int(b[i] - 48); digits += 1 }
                i += 1
            }
            while digits < 9 { nanos *= 10; digits += 1 }
        }
        guard let ts = Self.make(year: y, month: mo, day: d, hour: h, minute: mi, second: se, nanos: nanos) else { return nil }
        self = ts
    }

    /// Parses `Wed, 25 Nov 2026 16:45:09 GMT`.
    public init?(rfc1123 s: String) {
        let parts = s.split(separator: " ")
        guard parts.count >= 5, let d = Int(parts[1]), let y = Int(parts[3]),
              let mo = Self.months.firstIndex(of: String(parts[2])) else { return nil }
        let hms = parts[4].split(separator: ":").compactMap { Int($0) }
        guard hms.count == 3,
              let ts = Self.make(year: y, month: mo + 1, day: d, hour: hms[0], minute: hms[1], second: hms[2], nanos: 0)
        else { return nil }
        self = ts
    }
}
