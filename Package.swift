// swift-tools-version:6.0
import Foundation
import PackageDescription

// All Swift code is compiled for x86-64-v3 (Haswell's AVX2, FMA, F16C, BMI), which every host of
// the supported machine class has: the element-wise kernels run 8 lanes wide instead of SSE's 4
// (docs/PERFORMANCE.md, "Build"). CPUBaseline stops the program with a message on a CPU without
// them; DFT_MPI_TARGET_CPU=generic builds for the x86-64 baseline instead (same results).
let targetCPU = ProcessInfo.processInfo.environment["DFT_MPI_TARGET_CPU"] ?? "haswell"
#if arch(x86_64)
let buildsForHaswell = targetCPU == "haswell"
#else
let buildsForHaswell = false
#endif

let package = Package(
    name: "dft-mpi",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dft-mpi", targets: ["dft-mpi"]),
        .library(name: "DFTTrain", targets: ["DFTTrain"]),
        .library(name: "DFTJobs", targets: ["DFTJobs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
    ],
    targets: [
        // C libraries, found through pkg-config; the shims expose the macros Swift cannot import.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        // oneDNN has no pkg-config file: its module map links `dnnl` by name.
        .systemLibrary(name: "COneDNN", providers: [.apt(["libdnnl-dev"])]),

        // Refuses to start on a CPU without the instructions the Swift code was compiled for.
        .target(name: "CPUBaseline", cSettings: buildsForHaswell ? [.define("DFT_CPU_BASELINE_HASWELL")] : []),

        // Storage, BLAS, and the forward/backward kernels on flat buffers.
        .target(name: "DFTCore", dependencies: ["COpenBLAS", "COneDNN"]),
        // The decoder-only transformer: config, parameter layout, forward and backward.
        .target(name: "DFTModel", dependencies: ["DFTCore"]),
        // Generation: KV cache, prefill and batched decode steps over a model's weights,
        // samplers, stop rules, continuous batching.
        .target(name: "DFTDecode", dependencies: ["DFTCore", "DFTModel"]),
        // Tokenizers, datasets, sampling, and batch building (padding and packing).
        .target(name: "DFTData", dependencies: ["DFTCore"]),
        // Swift types over libhdf5: files, groups, datasets, attributes, appendable series.
        .target(name: "DFTHDF5", dependencies: ["CHDF5"]),
        // Grading: answer extraction, normalisation and equality as the Qwen2.5-Math harness
        // (docs/EVALUATION.md); Foundation only.
        .target(name: "DFTEval"),
        // The built-in base model and its fine-tuning and held-out data, as resources
        // (made by scripts/base-model/build.sh); Foundation only.
        .target(name: "DFTBuiltin", resources: [.copy("Resources/arith-base"), .copy("Resources/arith-base-half"), .copy("Resources/arith-data")]),
        // What every command shares: the communicator over MPI, stop signals, the thread policy,
        // the machine description, and RankCommand, which runs a subcommand on the ranks.
        .target(name: "DFTRuntime", dependencies: ["DFTCore", "CMPI", "CPUBaseline"]),
        // Generation over ranks (work units, sample streams, stops, part files gathered in file
        // order, resume), prompt files, gold answers and scores: used by `generate`, `eval` and
        // training's accuracy evaluation.
        .target(name: "DFTGeneration", dependencies: [
            "DFTRuntime", "DFTCore", "DFTModel", "DFTDecode", "DFTData", "DFTEval",
        ]),
        // Training: its configuration, objectives, optimizers, schedule, checkpoints (save and
        // restore), the loop, metrics and held-out evaluation.
        .target(name: "DFTTrain", dependencies: [
            "DFTRuntime", "DFTGeneration", "DFTCore", "DFTModel", "DFTDecode", "DFTData", "DFTEval", "DFTHDF5", "DFTBuiltin",
            .product(name: "Yams", package: "Yams"),
        ]),
        // The jobs that are not training itself: generate, eval, offline RL, score, export, prepare, bench, inspect.
        .target(name: "DFTJobs", dependencies: [
            "DFTTrain", "DFTGeneration", "DFTRuntime", "DFTCore", "DFTModel", "DFTDecode", "DFTData", "DFTEval", "DFTHDF5",
            "DFTBuiltin",
        ]),
        .executableTarget(name: "dft-mpi", dependencies: [
            "DFTJobs", "DFTTrain", "DFTGeneration", "DFTRuntime", "DFTModel", "DFTDecode", "DFTData", "DFTCore", "DFTEval",
            "DFTBuiltin",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "DFTCoreTests", dependencies: [
            "DFTCore", .product(name: "Numerics", package: "swift-numerics"),
        ]),
        // Fixtures (transformers models and their recorded outputs, scripts/fixtures/) are read
        // through #filePath, not bundled.
        .testTarget(name: "DFTModelTests", dependencies: [
            "DFTModel", "DFTCore", .product(name: "Numerics", package: "swift-numerics"),
        ], exclude: ["Fixtures"]),
        .testTarget(name: "DFTDataTests", dependencies: ["DFTData", "DFTCore"], exclude: ["Fixtures"]),
        // Decoding fixtures: transformers' greedy generate (scripts/fixtures/make_decoding_fixtures.py).
        .testTarget(name: "DFTDecodeTests", dependencies: ["DFTDecode", "DFTModel", "DFTCore"], exclude: ["Fixtures"]),
        .testTarget(name: "DFTHDF5Tests", dependencies: ["DFTHDF5"]),
        .testTarget(name: "DFTBuiltinTests", dependencies: ["DFTBuiltin"]),
        // Verdict tables of each grading stage, adversarial inputs, and 10,000 gradings timed.
        .testTarget(name: "DFTEvalTests", dependencies: ["DFTEval"]),
        // Runs the built `dft-mpi` binary under real `mpirun`: multi-rank equivalence, failures, signals.
        .testTarget(name: "IntegrationTests", dependencies: [
            "DFTModel", "DFTCore", .product(name: "Numerics", package: "swift-numerics"),
        ], exclude: ["python"]),
        .testTarget(name: "DFTRuntimeTests", dependencies: ["DFTRuntime"]),
        .testTarget(name: "DFTGenerationTests", dependencies: ["DFTGeneration"]),
        .testTarget(name: "DFTJobsTests", dependencies: ["DFTJobs", "DFTTrain", "DFTRuntime", "DFTData", "DFTGeneration"]),
        .testTarget(name: "DFTTrainTests", dependencies: [
            "DFTTrain", "DFTRuntime", "DFTModel", "DFTDecode", "DFTData", "DFTCore", "DFTBuiltin",
            .product(name: "Numerics", package: "swift-numerics"),
        ]),
    ]
)

if buildsForHaswell {
    for target in package.targets where target.type != .system && target.name != "CPUBaseline" {
        target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-target-cpu", "haswell"])]
    }
}
