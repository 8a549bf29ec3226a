import Foundation
import Testing

extension Integration {
    /// docs/CHECKPOINT.md: "`--model PATH.h5` starts a new run from a checkpoint's weights
    /// with a fresh optimizer."
    @Suite("--model from a checkpoint")
    struct ModelFromCheckpoint {
        /// One SGD step with warm-up over the whole run: step 0's learning rate is exactly 0,
        /// so the dump's final parameters are the weights the run started from.
        @Test("A new run at step 0 whose starting weights are the checkpoint's, bit for bit, with a fresh optimizer")
        func startsFromTheWeights() throws {
            let scratch = try Scratch()
            defer { scratch.remove() }
            let original = TrainSettings().with { $0.objective = "dft"; $0.steps = 4; $0.extra = ["--save-every", "0"] }
            let first = try TrainJob(.plain, original, in: scratch)
            let firstResult = try first.run()
            try #require(firstResult.succeeded, "\(firstResult.transcript)")
            let checkpoint = RunDirectory(path: first.outDirectory).checkpoint(step: 4)
            let saved = try CheckpointFile(checkpoint).flatParameters(original.model)

            // The later --model, --optimizer and --warmup-ratio override the fixed flags TrainJob passes.
            let fresh = original.with {
                $0.steps = 1
                $0.extra = ["--model", checkpoint, "--optimizer", "sgd", "--warmup-ratio", "1"]
            }
            let second = try TrainJob(.plain, fresh, in: scratch)
            let result = try second.run()
            try #require(result.succeeded, "\(result.transcript)")
            #expect(!result.output.contains("resumed"), "a --model run is a new run, not a resumed one\(result.transcript)")
            #expect(ProgressLine.all(in: result.stdout).map(\.step) == [1], "progress lines\(result.transcript)")

            let metrics = try H5Py.dump(RunDirectory(path: second.outDirectory).metrics)
            #expect(try metrics.dataset("step").ints == [0], "the new run's first step is step 0")
            #expect(try metrics.dataset("lr").values == [0], "the premise: step 0 trains at learning rate 0")
            let start = try second.dump().parameters.map(Float.init)
            try #require(start.count == saved.count, "\(start.count) parameters, the checkpoint has \(saved.count)")
            let differing = zip(start, saved).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
            #expect(differing.isEmpty, """
                \(differing.count) starting parameters differ from the checkpoint's /model values, first \
                \(differing.first.map { "at \($0.offset): \($0.element.0) vs \($0.element.1)" } ?? "")
                """)
            #expect(saved.map(\.bitPattern) == (try first.dump()).parameters.map { Float($0).bitPattern },
                    "the checkpoint of the end of the first run does not hold its final parameters")

            // A fresh optimizer: the new run's checkpoint counts 1 update, not 4 + 1.
            let newCheckpoint = try CheckpointFile(RunDirectory(path: second.outDirectory).checkpoint(step: 1))
            let optimizer = try newCheckpoint.root.group("optimizer")
            #expect(newCheckpoint.intAttribute("step") == 1)
            #expect(optimizer.attributes["type"]?.string == "sgd" && optimizer.attributes["step"]?.int == 1,
                    "optimizer \(optimizer.attributes["type"]?.string ?? "?"), \(optimizer.attributes["step"]?.int ?? -1) updates")
        }
    }
}
