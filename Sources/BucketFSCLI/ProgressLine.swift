import Foundation
import Glibc

/// Progress of a long command: one line rewritten in place on a terminal, plain lines (each
/// different one once) otherwise, so logs of scripts stay readable.
final class ProgressLine {
    private let terminal = isatty(1) == 1
    private var last = ""
    private var shown = false

    func update(_ line: String) {
        guard line != last else { return }
        last = line
        shown = true
        emit(terminal ? "\r\(line)\u{1b}[K" : line + "\n")
    }

    /// Ends the line in place (on a terminal) before other output.
    func finish() {
        if terminal && shown { emit("\n") }
        shown = false
    }

    private func emit(_ text: String) { text.withCString { _ = write(1, $0, strlen($0)) } }
}
