import Foundation

/// The two programs every integration test runs, found deterministically; a missing one is a
/// failure with what to do next, never a skip (a test that skips for a missing tool hides a
/// broken setup).
enum Tools {
    /// The `dft-mpi` built next to the running test bundle. SwiftPM puts every product of a
    /// build in one directory (`<scratch>/debug`), so the binary under test is always the one
    /// built with these tests, whatever scratch path was used.
    static func binary() throws -> String {
        guard let directory = buildDirectory() else {
            throw SetupError("""
                cannot find the directory of the running test bundle (no path ending in .xctest \
                among \(bundleCandidates())); the dft-mpi binary is looked up next to it
                """)
        }
        let path = (directory as NSString).appendingPathComponent("dft-mpi")
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw SetupError("""
                the dft-mpi binary is missing at \(path); build it together with the tests: \
                `swift build --scratch-path <scratch> --build-tests`, then \
                `swift test --scratch-path <scratch> --skip-build`
                """)
        }
        return path
    }

    /// `mpirun` from PATH.
    static func mpirun() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/mpirun"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw SetupError("""
            mpirun is not on PATH (\(path)); install Open MPI (Debian: \
            `apt-get install -y openmpi-bin libopenmpi-dev`, or run scripts/setup.sh)
            """)
    }

    /// Environment every launch gets: the tests run as root in CI containers.
    /// Open MPI as root; on a CPU without bf16 instructions, `--precision bf16` on the reference
    /// path (DFT_MPI_BF16_REFERENCE), so that the bf16 tests of the commands run here too.
    static let environment = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]
        .merging(cpuHasBF16 ? [:] : ["DFT_MPI_BF16_REFERENCE": "1"]) { a, _ in a }

    /// The CPU can multiply bf16 natively (AVX512-BF16, or AMX's bf16).
    static var cpuHasBF16: Bool {
        let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let flags = text.split(separator: "\n").first { $0.hasPrefix("flags") }.map { $0.split(separator: " ") } ?? []
        return flags.contains("avx512_bf16") || flags.contains("amx_bf16")
    }

    /// The directory holding the `.xctest` bundle (an executable file on Linux, a directory
    /// on macOS) that is running now.
    static func buildDirectory() -> String? {
        for candidate in bundleCandidates() {
            let url = URL(fileURLWithPath: candidate).standardizedFileURL
            if let bundle = url.pathComponents.lastIndex(where: { $0.hasSuffix(".xctest") }) {
                let components = url.pathComponents[..<bundle]
                return NSString.path(withComponents: Array(components))
            }
        }
        return nil
    }

    private static func bundleCandidates() -> [String] {
        var paths = Bundle.allBundles.map(\.bundlePath)
        paths.append(Bundle.main.bundlePath)
        if let executable = Bundle.main.executablePath { paths.append(executable) }
        if let first = ProcessInfo.processInfo.arguments.first { paths.append(first) }
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            paths.append(exe)
        }
        return paths
    }
}

struct SetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }

}

extension Tools {
    /// Runs `dft-mpi ARGUMENTS`, under `mpirun -n RANKS` (oversubscribed, unbound) when
    /// `ranks` > 1, as the suites' tests run a command a user would type.
    /// `extra` is set on top of `environment` (mpirun hands it to its ranks).
    static func dftMPI(_ arguments: [String], ranks: Int = 1, seconds: Double, extra: [String: String] = [:]) throws -> ProcessResult {
        var command = [try binary()] + arguments
        if ranks > 1 {
            command = [try mpirun(), "-n", "\(ranks)", "--oversubscribe", "--bind-to", "none"] + command
        }
        return try ChildProcess.run(command, environment: environment.merging(extra) { _, new in new }, seconds: seconds)
    }
}
