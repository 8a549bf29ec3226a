import Foundation
import Testing

extension Integration {
    /// A checkpoint can pass its checksum and still hold a non-finite weight (a run that
    /// diverged, a file edited by hand). Training from it must end as README.md promises for
    /// non-finite values, with skipped steps and the --max-skips message, or refuse the file
    /// with a message; never crash.
    @Suite("A checkpoint with a NaN weight")
    struct NonFiniteWeights {
        @Test("--model from a checkpoint whose final norm holds a NaN: non-zero exit with a message, no crash")
        func nanWeight() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let settings = TrainSettings().with { $0.objective = "dft"; $0.steps = 2; $0.extra = ["--save-every", "0"] }
            let first = try TrainJob(.plain, settings, in: scratch)
            let firstResult = try first.run()
            try #require(firstResult.succeeded, "\(firstResult.transcript)")
            let checkpoint = RunDirectory(path: first.outDirectory).checkpoint(step: 2)

            // NaN in model.norm.weight[0] reaches every logit; the checksum is made to match.
            let tensors = settings.model.documentedTensors
            let index = try #require(tensors.firstIndex { $0.name == "model.norm.weight" })
            let offset = tensors[..<index].reduce(0) { $0 + $1.shape.reduce(1, *) }
            var weights = try CheckpointFile(checkpoint).flatParameters(settings.model)
            weights[offset] = Float(bitPattern: H5Py.poisonBits)
            try H5Py.poison(checkpoint, dataset: "model/model.norm.weight", checksum: checkpointChecksum(weights))

            let poisoned = settings.with { $0.steps = 4; $0.extra += ["--model", checkpoint, "--max-skips", "2"] }
            let result = try TrainJob(.plain, poisoned, in: scratch).run()
            #expect(!result.timedOut && !result.signalled, "the run crashed instead of ending with a message\(result.transcript)")
            #expect(result.status != 0, "training from NaN weights reported success\(result.transcript)")
            let explained = result.stderr.contains("max-skips") || result.stderr.contains(checkpoint)
            #expect(explained, "no message names --max-skips or the checkpoint\(result.transcript)")
        }
    }
}
