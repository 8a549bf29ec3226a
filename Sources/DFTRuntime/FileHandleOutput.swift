import Foundation

/// Unbuffered writes to stdout/stderr that work from any thread, for progress and errors.
public enum FileHandleOutput {
    case standardOutput, standardError

    public func write(_ text: String) {
        let fd: Int32 = self == .standardOutput ? STDOUT_FILENO : STDERR_FILENO
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { raw in
                Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
            }
            if written <= 0 { break }
            offset += written
        }
    }

    public var isTerminal: Bool {
        isatty(self == .standardOutput ? STDOUT_FILENO : STDERR_FILENO) != 0
    }
}
