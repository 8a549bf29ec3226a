import Foundation

/// A process started with pipes on stdout and stderr, drained by two threads as the output
/// arrives (so a chatty child can never block on a full pipe), with a deadline after which
/// the process and everything it started are killed.
final class ChildProcess: @unchecked Sendable {
    let command: [String]
    private let process = Process()
    private let stdout = OutputBuffer()
    private let stderr = OutputBuffer()
    private let drained = DispatchGroup()
    private let exited = DispatchSemaphore(value: 0)
    private let started = ContinuousClock.now

    /// Starts `command[0]` with the remaining arguments and `environment` added to this
    /// process's environment.
    init(_ command: [String], environment: [String: String] = [:]) throws {
        self.command = command
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = FileHandle.nullDevice
        let exited = exited
        process.terminationHandler = { _ in exited.signal() }
        try Self.withEmptySignalMask { try process.run() }
        drain(outPipe.fileHandleForReading, into: stdout)
        drain(errPipe.fileHandleForReading, into: stderr)
    }

    var pid: pid_t { process.processIdentifier }

    /// Runs `body` (which spawns a child) with no signal blocked in this thread. A child
    /// inherits the spawning thread's signal mask, and the test runner's worker threads block
    /// SIGTERM, SIGUSR1 and most others: a child started from one would never see the
    /// SIGTERM a test sends it. A shell or a batch system starts programs with an empty mask.
    private static func withEmptySignalMask<T>(_ body: () throws -> T) rethrows -> T {
        var empty = sigset_t(), previous = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        return try body()
    }

    /// The output so far.
    var standardOutput: String { stdout.text }

    private func drain(_ handle: FileHandle, into buffer: OutputBuffer) {
        drained.enter()
        let group = drained
        Thread.detachNewThread {
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
            }
            group.leave()
        }
    }

    /// Polls stdout until `condition` holds; false if the process ended or `seconds` passed first.
    func waitForStandardOutput(seconds: Double, until condition: (String) -> Bool) -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if condition(stdout.text) { return true }
            if !process.isRunning { return condition(stdout.text) }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    /// Waits for the exit; past `seconds`, kills the whole process tree and reports a timeout.
    func wait(seconds: Double) -> ProcessResult {
        let timedOut = exited.wait(timeout: .now() + seconds) == .timedOut
        if timedOut {
            ProcessTable.killTree(rootedAt: pid)
            _ = exited.wait(timeout: .now() + 10)
        }
        // Grandchildren that outlive their parent could hold the pipes open; do not hang on them.
        _ = drained.wait(timeout: .now() + 10)
        let elapsed = ContinuousClock.now - started
        // Foundation traps on reading how a still-running process ended; -1 marks one that
        // survived even SIGKILL.
        let running = process.isRunning
        return ProcessResult(
            command: command, status: running ? -1 : process.terminationStatus,
            signalled: !running && process.terminationReason == .uncaughtSignal, timedOut: timedOut,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            stdout: stdout.text, stderr: stderr.text)
    }

    /// Starts, waits, and returns the result.
    static func run(_ command: [String], environment: [String: String] = [:], seconds: Double) throws -> ProcessResult {
        try ChildProcess(command, environment: environment).wait(seconds: seconds)
    }
}

/// Bytes from one pipe, appended by a drain thread and read by the test.
final class OutputBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ chunk: Data) {
        lock.lock(); defer { lock.unlock() }
        data.append(chunk)
    }

    var text: String {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}

/// How a finished (or killed) process ended, with everything it printed.
struct ProcessResult: Sendable {
    let command: [String]
    /// Exit code, or the signal number when `signalled`.
    let status: Int32
    let signalled: Bool
    let timedOut: Bool
    let seconds: Double
    let stdout: String
    let stderr: String

    var succeeded: Bool { !timedOut && !signalled && status == 0 }
    /// Ended by a stop request before its last step, checkpoint saved: exit 75 (EX_TEMPFAIL).
    var stoppedEarly: Bool { !timedOut && !signalled && status == 75 }
    var output: String { stdout + "\n" + stderr }
    var stdoutLines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }

    /// For failure messages: the command, how it ended, and the last lines of each stream.
    var transcript: String {
        func tail(_ text: String) -> String {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            return lines.suffix(30).joined(separator: "\n")
        }
        let ending = timedOut ? "killed after a timeout of \(Int(seconds)) s"
            : signalled ? "killed by signal \(status)" : "exit status \(status)"
        return """

            $ \(command.joined(separator: " "))
            -> \(ending) after \(String(format: "%.1f", seconds)) s
            --- stdout (last 30 lines) ---
            \(tail(stdout))
            --- stderr (last 30 lines) ---
            \(tail(stderr))
            ---
            """
    }
}
