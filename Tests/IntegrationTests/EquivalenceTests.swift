import Numerics
import Testing

extension Integration {
    /// Data parallelism must not change the optimisation: every rank divides by the global
    /// count of trained tokens, so N ranks with any micro-batch reproduce one process step by
    /// step, with or without ZeRO-1, up to the order of float sums. The fixture's examples
    /// have different lengths and prompt/response splits, so the ranks hold different numbers
    /// of trained tokens and a per-rank normalisation would show.
    ///
    /// The reference of every comparison is one plain process (no mpirun, micro-batch 2, so
    /// 4 micro-steps per optimizer step, ZeRO off); runs are cached and shared across tests.
    @Suite("N ranks reproduce one process")
    struct Equivalence {
        /// Qwen2 shapes, global batch 8, 4 steps of AdamW at lr 1e-3, padding.
        let base = TrainSettings()

        @Test("2 ranks (micro-batch 1) and 4 ranks (micro-batch 2) give the single-process metrics and parameters",
              arguments: ["sft", "dft"], [0, 1])
        func ranksReproduceOneProcess(objective: String, zero: Int) throws {
            let single = base.with { $0.objective = objective }
            let reference = try RunCache.shared.dump(.plain, single)
            expectWellFormed(reference, steps: single.steps, parameterCount: try single.model.parameterCount,
                             "\(objective), 1 process")
            for (ranks, micro) in [(2, 1), (4, 2)] {
                let settings = single.with { $0.zero = zero; $0.microBatch = micro }
                let dump = try RunCache.shared.dump(.mpirun(ranks: ranks), settings)
                let label = "\(objective), zero \(zero), \(ranks) ranks x micro-batch \(micro)"
                expectEquivalent(dump, to: reference, label)
            }
        }

        /// Each rank runs its own copy of the frozen reference on its own rows; the KL term and
        /// the importance weights are per token, so the global normalisation still holds.
        @Test("asft and iw-sft (frozen reference) on 2 and 4 ranks give the single-process run",
              arguments: ["asft", "iw-sft"])
        func referenceObjectives(objective: String) throws {
            let single = base.with { $0.objective = objective }
            let reference = try RunCache.shared.dump(.plain, single)
            expectWellFormed(reference, steps: single.steps, parameterCount: try single.model.parameterCount,
                             "\(objective), 1 process")
            for (ranks, micro, zero) in [(2, 1, 0), (4, 2, 1)] {
                let settings = single.with { $0.zero = zero; $0.microBatch = micro }
                let dump = try RunCache.shared.dump(.mpirun(ranks: ranks), settings)
                expectEquivalent(dump, to: reference, "\(objective), zero \(zero), \(ranks) ranks x micro-batch \(micro)")
            }
        }

        @Test("ZeRO-1 on one process equals plain AdamW", arguments: ["sft", "dft"])
        func zeroOnOneProcess(objective: String) throws {
            let settings = base.with { $0.objective = objective }
            let reference = try RunCache.shared.dump(.plain, settings)
            let sharded = try RunCache.shared.dump(.plain, settings.with { $0.zero = 1 })
            expectEquivalent(sharded, to: reference, "\(objective), 1 process, zero 1 vs zero 0")
        }

        @Test("mpirun -n 1 equals the plain process")
        func mpirunWithOneRank() throws {
            let settings = base.with { $0.objective = "dft" }
            let reference = try RunCache.shared.dump(.plain, settings)
            let launched = try RunCache.shared.dump(.mpirun(ranks: 1), settings)
            expectEquivalent(launched, to: reference, "dft, mpirun -n 1 vs plain process")
        }

        @Test("With packing, 2 and 4 ranks give the single-process metrics and parameters")
        func packing() throws {
            let single = base.with { $0.objective = "dft"; $0.packing = true }
            let reference = try RunCache.shared.dump(.plain, single)
            expectWellFormed(reference, steps: single.steps, parameterCount: try single.model.parameterCount,
                             "packed dft, 1 process")
            for (ranks, micro, zero) in [(2, 1, 1), (4, 2, 0)] {
                let settings = single.with { $0.microBatch = micro; $0.zero = zero }
                let dump = try RunCache.shared.dump(.mpirun(ranks: ranks), settings)
                expectEquivalent(dump, to: reference, "packed dft, zero \(zero), \(ranks) ranks x micro-batch \(micro)")
            }
        }

        @Test("Llama shapes (no q/k/v bias, untied head): 2 ranks with ZeRO-1 give the single-process run")
        func llama() throws {
            let single = base.with { $0.model = .llama }
            let reference = try RunCache.shared.dump(.plain, single)
            expectWellFormed(reference, steps: single.steps, parameterCount: try single.model.parameterCount,
                             "llama sft, 1 process")
            let dump = try RunCache.shared.dump(.mpirun(ranks: 2), single.with { $0.zero = 1 })
            expectEquivalent(dump, to: reference, "llama sft, zero 1, 2 ranks x micro-batch 2")
        }

        /// bf16 products (natively, or on the reference path where the CPU has no bf16
        /// instructions): the ranks' products have other row counts than one process's, so
        /// the fp32 sums inside them run in another order, as in fp32; the bf16 rounding of
        /// the operands is per element and the same. Same tolerance as fp32's.
        @Test("bf16: 2 ranks (ZeRO-1 too) and 4 ranks give the single-process run", arguments: ["dft"])
        func bf16(objective: String) throws {
            let single = base.with { $0.objective = objective; $0.extra = ["--precision", "bf16"] }
            let reference = try RunCache.shared.dump(.plain, single)
            expectWellFormed(reference, steps: single.steps, parameterCount: try single.model.parameterCount,
                             "bf16 \(objective), 1 process")
            for (ranks, micro, zero) in [(2, 1, 0), (2, 1, 1), (4, 2, 0)] {
                let settings = single.with { $0.zero = zero; $0.microBatch = micro }
                let dump = try RunCache.shared.dump(.mpirun(ranks: ranks), settings)
                expectEquivalent(dump, to: reference, "bf16 \(objective), zero \(zero), \(ranks) ranks x micro-batch \(micro)")
            }
            // And bf16 is not fp32: the comparisons above would see a run that ignored it.
            let fp32 = try RunCache.shared.dump(.plain, base.with { $0.objective = objective })
            #expect(reference.maxParameterDifference(to: fp32) > 100 * Tolerance.parameters * fp32.parameterScale)
        }

        /// Guards the tolerances: a comparison that cannot fail shows nothing.
        @Test("The checks can fail: sft and dft start from the same NLL and end far apart")
        func comparisonIsSensitive() throws {
            let sft = try RunCache.shared.dump(.plain, base.with { $0.objective = "sft" })
            let dft = try RunCache.shared.dump(.plain, base.with { $0.objective = "dft" })
            let first = try #require(sft.nll.first), dftFirst = try #require(dft.nll.first)
            #expect(first.isApproximatelyEqual(to: dftFirst, relativeTolerance: Tolerance.metric),
                    "same initial model and first batch, so the same NLL: \(first) vs \(dftFirst)")
            #expect(sft.tokens == dft.tokens)
            let difference = sft.maxParameterDifference(to: dft)
            let allowed = Tolerance.parameters * sft.parameterScale
            #expect(difference > 100 * allowed, """
                sft and dft parameters differ by only \(difference) (tolerance \(allowed)): \
                the equivalence checks would not see a wrong update
                """)
        }
    }
}
