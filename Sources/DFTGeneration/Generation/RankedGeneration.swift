import DFTDecode
import DFTRuntime

/// The one way (problem, sample) pairs are generated over ranks, for `generate`, `eval` and
/// training's accuracy evaluation alike.
///
/// The pairs, in file order (pair id = prompt position x samples + sample), are cut into units
/// of `unitPairs`; rank r takes units r, r + N, ... and runs each through the engine on its
/// own. Every sample draws from its own stream, seeded by (seed, record index, sample), and a
/// unit's sequences meet the same batches whichever rank runs it, so the completions do not
/// depend on the number of ranks. A unit whose pairs are all done already (a resumed run) is
/// skipped; one with any missing pair runs whole, so each of its sequences meets the batches
/// of an uninterrupted run, and only its missing pairs are reported.
public struct RankedGeneration {
    public let prompts: [PromptFile.Prompt]
    public let samples: Int
    public let unitPairs: Int
    public let communicator: any Communicator

    public init(prompts: [PromptFile.Prompt], samples: Int, unitPairs: Int, communicator: any Communicator) {
        self.prompts = prompts
        self.samples = samples
        self.unitPairs = unitPairs
        self.communicator = communicator
    }

    public var pairCount: Int { prompts.count * samples }

    /// (record index, sample) of pair `id`.
    public func pair(_ id: Int) -> Pair { Pair(prompts[id / samples].index, id % samples) }

    /// Thrown by `run`'s callback path when a stop signal arrived.
    struct Stopped: Error {}

    /// Runs this rank's units through `engine`, the weights in the decoding layout for the whole
    /// run (and restored after, also on an error). `finished(id, result)` is called for every
    /// pair not in `done`, in the order they finish. With `stopsOnSignal`, a stop signal ends
    /// the run after the sample that finished when it arrived. Returns whether it did (this
    /// rank's view; combine it across ranks).
    public func run(engine: GenerationEngine, done: Set<Pair> = [], stopsOnSignal: Bool = false,
                    finished: (Int, GenerationResult) throws -> Void) throws -> Bool {
        let pairs = pairCount
        let units = (pairs + unitPairs - 1) / unitPairs
        let seed = engine.sampler.settings.seed
        var stopped = false
        try engine.decoder.withTransposedWeights {
            for u in stride(from: communicator.rank, to: units, by: communicator.size) {
                let range = (u * unitPairs)..<min(pairs, (u + 1) * unitPairs)
                if done.count > 0 && !range.contains(where: { !done.contains(pair($0)) }) { continue }
                let requests = range.map { id in
                    let prompt = prompts[id / samples]
                    return GenerationRequest(id: id, prompt: prompt.ids,
                                             stream: SampleStream(seed: seed, index: prompt.index, sample: id % samples))
                }
                do {
                    try engine.run(requests) { result in
                        if done.isEmpty || !done.contains(pair(result.id)) { try finished(result.id, result) }
                        if stopsOnSignal && StopSignal.received != 0 { throw Stopped() }
                    }
                } catch is Stopped {
                    stopped = true
                    break
                }
            }
        }
        return stopped
    }
}
