import DFTCore
import DFTRuntime
import Foundation

/// The names and rules of the checkpoint file format (docs/CHECKPOINT.md).
public enum CheckpointFormat {
    public static let name = "dft-mpi-checkpoint"
    /// The newest version this build reads. A full fine-tune's file is version 1; a LoRA
    /// run's is version 2 (an `adapter` group instead of `model`, and the base's identity), so
    /// that a build older than LoRA says the file is too new instead of missing a group.
    public static let version = 2
    public static let loraVersion = 2
    public static let fullVersion = 1
    public static let modelGroup = "model"
    public static let optimizerGroup = "optimizer"
    /// A LoRA run's checkpoint holds its adapters here (PEFT names) and no `model` group.
    public static let adapterGroup = "adapter"

    /// `step-00000042.h5`: 8 digits so that names sort by step.
    public static func fileName(step: Int) -> String { String(format: "step-%08d.h5", step) }

    /// The step of a checkpoint file name, or nil for anything else (temporary files included).
    public static func step(ofFileName name: String) -> Int? {
        guard name.hasPrefix("step-"), name.hasSuffix(".h5") else { return nil }
        let digits = name.dropFirst(5).dropLast(3)
        guard digits.count == 8, digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    /// FNV-1a over the bit patterns, fed in order: the same value whether computed over a
    /// buffer at once or over consecutive pieces. Detects corruption HDF5 itself would not
    /// (HDF5 stores no checksums for contiguous datasets).
    public struct Checksum {
        public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

        public init() {}

        public mutating func add(_ values: UnsafePointer<Float>, count: Int) {
            var h = value
            values.withMemoryRebound(to: UInt32.self, capacity: count) { bits in
                for i in 0..<count { h = (h ^ UInt64(bits[i])) &* 0x0000_0100_0000_01b3 }
            }
            value = h
        }

        public var hex: String { String(format: "%016llx", value) }
    }
}

public struct CheckpointError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "checkpoint '\(path)': \(reason)" }
}

/// fsync of a file or directory: a rename is durable only once the data and the directory
/// entry have reached the disk.
func synchronise(path: String) throws {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw CheckpointError(path: path, reason: "cannot open to fsync: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw CheckpointError(path: path, reason: "fsync failed: \(String(cString: strerror(errno)))") }
}
