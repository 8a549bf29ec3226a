import Foundation

/// What the matrix products of a job compute in, as asked (`--precision`, YAML `precision`).
///
/// - fp32: every product in fp32, bit-reproducible as before bf16 existed.
/// - bf16: products of bf16 operands accumulated in fp32, through oneDNN, on a CPU that
///   multiplies bf16 natively (AVX512-BF16 or AMX); elsewhere an error, never an emulation at
///   a hundredth of the speed.
/// - auto: bf16 where it is native, fp32 elsewhere.
///
/// Everything but the products (norms, RoPE, softmax, the loss, DFT's weight, the optimizer)
/// stays fp32 in every precision, as under PyTorch's CPU autocast.
public enum Precision: String, CaseIterable, Sendable {
    case fp32, bf16, auto

    /// The precision the products run in here: `bf16` or `fp32`.
    public func resolved() throws -> Precision {
        switch self {
        case .fp32: return .fp32
        case .auto: return OneDNN.nativeBF16 ? .bf16 : .fp32
        case .bf16:
            guard OneDNN.nativeBF16 || Self.referencePath else { throw PrecisionError.noNativeBF16(isa: OneDNN.isa) }
            return .bf16
        }
    }

    /// For tests only: with DFT_MPI_BF16_REFERENCE=1, bf16 runs on the reference path (sgemm on
    /// bf16-rounded operands, `PackedMatrix.Kind.bf16Reference`), on any CPU, so that the bf16
    /// tests of the commands (ranks against one process, resume) run on hosts without bf16
    /// instructions too. Not for users: it is no faster than fp32.
    public static let referencePath = ProcessInfo.processInfo.environment["DFT_MPI_BF16_REFERENCE"] == "1"

    /// The kind of packed matrix a resolved bf16 job multiplies with.
    public static var bf16Kind: PackedMatrix.Kind { referencePath ? .bf16Reference : .bf16 }

}

public enum PrecisionError: Error, CustomStringConvertible {
    case noNativeBF16(isa: String)

    public var description: String {
        switch self {
        case .noNativeBF16(let isa):
            return "precision bf16 needs a CPU with native bf16 instructions (AVX512-BF16 or AMX), and oneDNN "
                + "dispatches to \(isa) here\(cappedNote); use --precision auto (bf16 where native, fp32 elsewhere) "
                + "or --precision fp32"
        }
    }

    private var cappedNote: String {
        guard let cap = getenv("ONEDNN_MAX_CPU_ISA").map({ String(cString: $0) }) else { return "" }
        return " (capped by ONEDNN_MAX_CPU_ISA=\(cap))"
    }
}
