/// Per-open-file read-ahead policy. Reads that continue where the last ones ended (within a
/// tolerance, since the kernel sends read-ahead requests in parallel) grow the window from one
/// block to `maxWindow`; a seek resets it to nothing, so random reads fetch only what they need.
/// Read-ahead is asked for in large steps (whenever less than half the window is left), so the
/// GETs stay large; once the window reaches `alignment` (the reader's GET size) ranges end on
/// its multiples, so every GET is a whole aligned chunk. It only decides; `ObjectReader` fetches.
public struct Prefetcher: Sendable {
    public let blockSize: Int64
    public let maxWindow: Int64
    public let alignment: Int64
    public private(set) var window: Int64 = 0
    /// The last read continued a sequential stream (its bytes will not be asked for again).
    public var isSequential: Bool { window > 0 }
    /// Reads in a row that did not continue the previous one.
    public private(set) var randomReads = 0
    /// Two reads in a row jumped: the file is read at random, and a read fetches only what it
    /// asks for (no block around it, no read-ahead).
    public var isRandom: Bool { randomReads >= 2 }
    private var expected: Int64 = 0
    private var requestedUpTo: Int64 = 0

    public init(blockSize: Int64, maxWindow: Int64, alignment: Int64? = nil) {
        self.blockSize = blockSize
        self.maxWindow = max(0, maxWindow)
        self.alignment = max(blockSize, alignment ?? blockSize) / blockSize * blockSize
    }

    /// Records a read and answers the byte range to fetch ahead of it, if any.
    public mutating func onRead(offset: Int64, length: Int64, objectSize: Int64) -> Range<Int64>? {
        let end = offset + length
        // A random reader turns sequential again only by continuing exactly where it left off.
        let tolerance = isRandom ? 0 : max(window, 4 * blockSize)
        let sequential = offset >= expected - tolerance && offset <= expected + tolerance
        if sequential {
            randomReads = 0
            window = min(maxWindow, max(blockSize, window * 2))
            expected = max(expected, end)
        } else {
            randomReads += 1
            window = 0
            expected = end
            requestedUpTo = end
            return nil
        }
        // Ask again only when less than half a window is left ahead, then for the rest of the
        // window at once: few large GETs instead of one small GET per read.
        if requestedUpTo >= objectSize || requestedUpTo - end >= window / 2 && requestedUpTo > end { return nil }
        let start = max(requestedUpTo, end)
        let stop = min(objectSize, end + window)
        guard stop > start else { return nil }
        // Whole blocks only; whole chunks once the window is that large.
        let unit = window >= alignment ? alignment : blockSize
        let alignedStart = start / blockSize * blockSize
        let alignedStop = min(objectSize, (stop + unit - 1) / unit * unit)
        requestedUpTo = alignedStop
        return alignedStart..<alignedStop
    }
}
