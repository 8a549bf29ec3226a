import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes float32 tensors as a safetensors file, in float32 or bfloat16.
///
/// The header lists tensors in the given order with contiguous data offsets and is padded
/// with spaces to a multiple of 8 bytes, so every tensor's data starts 8-byte aligned when
/// earlier ones end aligned. A file is written under a temporary name and renamed into place,
/// so a reader never sees half a file.
public enum SafetensorsWriter {
    /// What a stored element becomes.
    public enum OutputType: String, Sendable, CaseIterable {
        case f32 = "F32", bf16 = "BF16"

        public var byteSize: Int { self == .f32 ? 4 : 2 }
        /// The name transformers gives it in config.json (`torch_dtype`).
        public var torchName: String { self == .f32 ? "float32" : "bfloat16" }
    }

    /// A tensor to write: `shape.reduce(1, *)` floats at `values`.
    public struct Tensor {
        public let name: String
        public let shape: [Int]
        public let values: UnsafePointer<Float>

        public init(name: String, shape: [Int], values: UnsafePointer<Float>) {
            self.name = name
            self.shape = shape
            self.values = values
        }

        public var count: Int { shape.reduce(1, *) }
    }

    /// transformers' `save_pretrained` marks its files with this; some loaders expect it.
    public static let pytorchMetadata = ["format": "pt"]

    /// Writes one file. `metadata`, when given, becomes the header's `__metadata__`.
    public static func write(_ tensors: [Tensor], to path: String, as type: OutputType,
                             metadata: [String: String]? = pytorchMetadata) throws {
        var seen = Set<String>()
        for t in tensors where !seen.insert(t.name).inserted {
            throw SafetensorsError.notWritable(path: path, reason: "tensor '\(t.name)' is given twice")
        }
        let header = headerBytes(tensors, type: type, metadata: metadata)
        let temporary = path + ".partial-\(getpid())"
        guard let file = fopen(temporary, "wb") else {
            throw SafetensorsError.notWritable(path: path, reason: String(cString: strerror(errno)))
        }
        var closed = false
        defer {
            if !closed { fclose(file) }
            unlink(temporary)  // a no-op once renamed
        }
        func put(_ bytes: UnsafeRawPointer, _ count: Int) throws {
            if count > 0 && fwrite(bytes, 1, count, file) != count {
                throw SafetensorsError.notWritable(path: path, reason: String(cString: strerror(errno)))
            }
        }
        var length = UInt64(header.count).littleEndian
        try put(&length, 8)
        try header.withUnsafeBytes { try put($0.baseAddress!, header.count) }
        let chunk = 1 << 16
        var scratch = [UInt16](repeating: 0, count: chunk)
        for t in tensors {
            switch type {
            case .f32:
                try put(t.values, t.count * 4)
            case .bf16:
                var start = 0
                while start < t.count {
                    let n = min(chunk, t.count - start)
                    for i in 0..<n { scratch[i] = bfloat16Bits(t.values[start + i]).littleEndian }
                    try scratch.withUnsafeBytes { try put($0.baseAddress!, n * 2) }
                    start += n
                }
            }
        }
        closed = true
        guard fclose(file) == 0 else {
            throw SafetensorsError.notWritable(path: path, reason: String(cString: strerror(errno)))
        }
        guard rename(temporary, path) == 0 else {
            throw SafetensorsError.notWritable(path: path, reason: "rename: \(String(cString: strerror(errno)))")
        }
    }

    /// Size of the file `write` would produce.
    public static func fileBytes(_ tensors: [Tensor], as type: OutputType,
                                 metadata: [String: String]? = pytorchMetadata) -> Int {
        8 + headerBytes(tensors, type: type, metadata: metadata).count
            + tensors.reduce(0) { $0 + $1.count * type.byteSize }
    }

    /// float32 to bfloat16 with round-to-nearest-even, as torch's `.to(torch.bfloat16)`;
    /// every NaN becomes the quiet NaN 0x7FC0.
    @inline(__always)
    public static func bfloat16Bits(_ x: Float) -> UInt16 {
        if x.isNaN { return 0x7FC0 }
        let bits = x.bitPattern
        let roundingBias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }

    /// The JSON header, space-padded to a multiple of 8 bytes.
    static func headerBytes(_ tensors: [Tensor], type: OutputType, metadata: [String: String]?) -> [UInt8] {
        var parts: [String] = []
        if let metadata {
            let fields = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            parts.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        var offset = 0
        for t in tensors {
            let end = offset + t.count * type.byteSize
            let shape = t.shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonString(t.name)):{\"dtype\":\"\(type.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var bytes = Array("{\(parts.joined(separator: ","))}".utf8)
        while bytes.count % 8 != 0 { bytes.append(UInt8(ascii: " ")) }
        return bytes
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
