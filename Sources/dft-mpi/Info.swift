import ArgumentParser
import DFTBuiltin
import DFTCore
import DFTGeneration
import DFTJobs
import DFTRuntime
import DFTTrain
import Foundation

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the CPU, the OpenBLAS kernel, oneDNN's instruction set and the thread count this machine would run with, and the built-in model and data.",
        discussion: """
            Speed and the exact bits of results depend on the OpenBLAS kernel (picked from the CPU, \
            or forced with OPENBLAS_CORETYPE, e.g. Haswell for the AVX2 kernels on an AVX-512 host). \
            Results are bit-identical across thread counts and rank counts on any one kernel, not \
            across kernels. --openblas-core prints the kernel's name alone (for scripts).
            """)

    @Flag(help: "Print only the OpenBLAS kernel's name.")
    var openblasCore = false

    func run() throws {
        if openblasCore {
            print(BLAS.coreName)
            return
        }
        let policy = ThreadPolicy.forThisProcess(requested: 0, ranksOnNode: 1)
        print("dft-mpi \(DFTVersionInfo.version)")
        print("cpu:      \(MachineDescription.cpu)")
        print("openblas: \(MachineDescription.openBLAS)")
        print("onednn:   \(MachineDescription.oneDNN)")
        print("build:    Swift code for \(MachineDescription.build)")
        print("threads:  \(policy.threads) for one process (\(policy.source))")
        print("built-in (usable wherever a model or data path is):")
        for asset in BuiltinAssets.all {
            print("  \(asset.name.padding(toLength: 19, withPad: " ", startingAt: 0)) \(asset.summary)")
        }
    }
}
