import Foundation
import Testing

extension Integration {
    /// `dft-mpi inspect FILE.h5` summarises a checkpoint or a metrics file and refuses
    /// anything else with a message naming it.
    @Suite("dft-mpi inspect")
    struct Inspect {
        @Test("A checkpoint: its step and every tensor with its shape; metrics.h5: its rows")
        func summaries() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let settings = TrainSettings().with { $0.objective = "dft"; $0.steps = 8; $0.extra = ["--save-every", "0"] }
            let job = try TrainJob(.plain, settings, in: scratch)
            let training = try job.run()
            try #require(training.succeeded, "\(training.transcript)")
            let dump = try job.dump()
            let out = RunDirectory(path: job.outDirectory)

            let checkpoint = try ChildProcess.run([job.binary, "inspect", out.checkpoint(step: 8)], seconds: 60)
            try #require(checkpoint.succeeded, "\(checkpoint.transcript)")
            let lines = checkpoint.stdoutLines.map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(lines.contains { $0.hasPrefix("step 8,") || $0 == "step 8" }, "no 'step 8' line\(checkpoint.transcript)")
            for tensor in settings.model.documentedTensors {
                #expect(lines.contains { $0.hasPrefix(tensor.name + " ") && $0.contains("\(tensor.shape)") },
                        "no line lists \(tensor.name) \(tensor.shape)\(checkpoint.transcript)")
            }

            let metrics = try ChildProcess.run([job.binary, "inspect", out.metrics, "--rows", "8"], seconds: 60)
            try #require(metrics.succeeded, "\(metrics.transcript)")
            #expect(metrics.stdoutLines.first?.contains("8 steps") == true, "first line\(metrics.transcript)")
            let header = metrics.stdoutLines.first { $0.split(separator: " ").first == "step" }
            let columns = header?.split(separator: " ").map(String.init) ?? []
            let nll = try #require(columns.firstIndex(of: "nll"), "no header line naming 'step' and 'nll'\(metrics.transcript)")
            for step in 0..<8 {
                let row = metrics.stdoutLines.map { $0.split(separator: " ").map(String.init) }
                    .first { $0.first == String(step) && $0.count == columns.count }
                #expect(row?[nll] == String(format: "%.4f", dump.nll[step]),
                        "row of step \(step): \(row ?? []), nll of the run \(dump.nll[step])\(metrics.transcript)")
            }
        }

        enum NotACheckpoint: String, CaseIterable, Sendable {
            case jsonl = "a JSONL file"
            case missing = "a missing file"
            case truncated = "a checkpoint truncated to half"
        }

        @Test("Anything else: non-zero exit and a message naming the file", arguments: NotACheckpoint.allCases)
        func refuses(_ kind: NotACheckpoint) throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let path: String
            switch kind {
            case .jsonl:
                path = try DataFixture.write(in: scratch)
            case .missing:
                path = scratch.file("no-such-checkpoint.h5")
            case .truncated:
                let job = try TrainJob(.plain, TrainSettings().with { $0.steps = 1 }, in: scratch)
                let training = try job.run()
                try #require(training.succeeded, "\(training.transcript)")
                path = RunDirectory(path: job.outDirectory).checkpoint(step: 1)
                try RunDirectory.truncateToHalf(path)
            }
            let result = try ChildProcess.run([try Tools.binary(), "inspect", path], seconds: 60)
            #expect(!result.succeeded && !result.timedOut && !result.signalled, "inspect of \(kind.rawValue)\(result.transcript)")
            #expect(result.stderr.contains(path), "the message does not name \(path)\(result.transcript)")
        }
    }
}
