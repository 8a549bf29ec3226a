import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Element types of the safetensors format. Only the floating-point ones the trainer can
/// convert to float32 are read; the others are known so that headers holding them validate.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f32 = "F32", bf16 = "BF16", f16 = "F16"
    case f64 = "F64", i64 = "I64", u64 = "U64", i32 = "I32", u32 = "U32", i16 = "I16", u16 = "U16"
    case i8 = "I8", u8 = "U8", bool = "BOOL", f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .bf16, .f16, .i16, .u16: 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: 1
        }
    }

    public var convertsToFloat: Bool { self == .f32 || self == .bf16 || self == .f16 }
}

/// One entry of a safetensors header.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    /// The header's dtype string, e.g. "BF16" (kept as text so unknown types can be named).
    public let dtypeName: String
    public let shape: [Int]
    /// Byte range within the data section (after the 8-byte length and the header).
    public let dataOffsets: Range<Int>

    public var dtype: SafetensorsDType? { SafetensorsDType(rawValue: dtypeName) }
    public var count: Int { shape.reduce(1, *) }
}

/// A safetensors file, memory-mapped read-only.
///
/// Layout: an 8-byte little-endian header length N, N bytes of JSON
/// `{"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {..}}`,
/// then the data section, which the offsets index. Opening parses and validates the whole
/// header against the file's size (offsets inside the file, byte counts matching shape and
/// dtype), so a truncated download is reported before any weight is read. Tensors are then
/// converted straight from the mapping into the caller's float32 buffer.
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    public let fileSize: Int
    /// Tensors by name.
    public let tensors: [String: SafetensorsTensorInfo]
    /// The optional string map under `__metadata__`.
    public let metadata: [String: String]
    private let mapping: UnsafeMutableRawPointer
    private let dataStart: Int

    /// Largest header accepted (the format's own limit is 100 MB).
    static let maxHeaderBytes = 100 << 20

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SafetensorsError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw SafetensorsError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        fileSize = Int(info.st_size)
        guard fileSize >= 8 else {
            throw SafetensorsError.truncated(path: path, tensor: nil,
                                             reason: "\(fileSize) bytes, shorter than the 8-byte header length")
        }
        guard let mapped = mmap(nil, fileSize, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw SafetensorsError.unreadable(path: path, reason: "mmap: \(String(cString: strerror(errno)))")
        }
        mapping = mapped
        do {
            (tensors, metadata, dataStart) = try Self.parseHeader(UnsafeRawPointer(mapped), fileSize: fileSize, path: path)
        } catch {
            munmap(mapped, fileSize)
            throw error
        }
    }

    deinit { munmap(mapping, fileSize) }

    /// Names in data order.
    public var names: [String] {
        tensors.values.sorted { ($0.dataOffsets.lowerBound, $0.name) < ($1.dataOffsets.lowerBound, $1.name) }.map(\.name)
    }

    /// Drops the mapped pages of tensor `name` from the resident set (no-op for an unknown
    /// name). The mapping is read-only and private, so nothing is lost: a later read faults the
    /// pages in again from the page cache.
    public func releasePages(of name: String) {
        guard let info = tensors[name] else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (dataStart + info.dataOffsets.lowerBound) / page * page
        let end = min(fileSize, dataStart + info.dataOffsets.upperBound)
        guard end > start else { return }
        madvise(mapping + start, end - start, MADV_DONTNEED)
    }

    /// Converts tensor `name` to float32 into `destination` (room for its element count).
    /// With `expectedShape`, a different shape is an error naming both.
    public func read(_ name: String, into destination: UnsafeMutablePointer<Float>,
                     expectedShape: [Int]? = nil) throws {
        guard let info = tensors[name] else { throw SafetensorsError.missingTensor(path: path, tensor: name) }
        if let expectedShape, expectedShape != info.shape {
            throw SafetensorsError.wrongShape(path: path, tensor: name, expected: expectedShape, found: info.shape)
        }
        guard let dtype = info.dtype, dtype.convertsToFloat else {
            throw SafetensorsError.unsupportedDType(path: path, tensor: name, dtype: info.dtypeName)
        }
        let source = UnsafeRawPointer(mapping) + dataStart + info.dataOffsets.lowerBound
        let n = info.count
        switch dtype {
        case .f32:
            UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: n * 4)
        case .bf16:
            for i in 0..<n {
                let bits = source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                destination[i] = Float(bitPattern: UInt32(UInt16(littleEndian: bits)) << 16)
            }
        case .f16:
            for i in 0..<n {
                let bits = source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                destination[i] = Self.halfToFloat(UInt16(littleEndian: bits))
            }
        default:
            throw SafetensorsError.unsupportedDType(path: path, tensor: name, dtype: info.dtypeName)
        }
    }

    /// A tensor as a new float32 array (tests and small tensors).
    public func floats(_ name: String) throws -> [Float] {
        guard let info = tensors[name] else { throw SafetensorsError.missingTensor(path: path, tensor: name) }
        var values = [Float](repeating: 0, count: info.count)
        try values.withUnsafeMutableBufferPointer { try read(name, into: $0.baseAddress!) }
        return values
    }

    /// IEEE 754 binary16 to binary32, exactly (every half is a float).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h) & 0x3FF
        if exponent == 0x1F {  // inf, nan
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {  // zero, subnormal: mantissa * 2^-24
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    private static func parseHeader(_ base: UnsafeRawPointer, fileSize: Int, path: String) throws
        -> (tensors: [String: SafetensorsTensorInfo], metadata: [String: String], dataStart: Int)
    {
        let declared = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard declared <= UInt64(maxHeaderBytes) else {
            throw SafetensorsError.badHeader(path: path, reason: "header length \(declared) bytes is implausible (limit \(maxHeaderBytes)); not a safetensors file?")
        }
        let headerLength = Int(declared)
        guard 8 + headerLength <= fileSize else {
            throw SafetensorsError.truncated(path: path, tensor: nil,
                                             reason: "header of \(headerLength) bytes does not fit in the file's \(fileSize) bytes")
        }
        let headerBytes = Data(bytes: base + 8, count: headerLength)
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw SafetensorsError.badHeader(path: path, reason: "the JSON header does not start with '{'")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: headerBytes)
        } catch {
            throw SafetensorsError.badHeader(path: path, reason: "not valid JSON (\(error.localizedDescription))")
        }
        guard let entries = object as? [String: Any] else {
            throw SafetensorsError.badHeader(path: path, reason: "the JSON header is not an object")
        }
        let dataStart = 8 + headerLength
        let dataSize = fileSize - dataStart
        var tensors: [String: SafetensorsTensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in entries {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else {
                    throw SafetensorsError.badHeader(path: path, reason: "__metadata__ is not an object")
                }
                for (key, item) in map {
                    guard let text = item as? String else {
                        throw SafetensorsError.badHeader(path: path, reason: "__metadata__['\(key)'] is not a string")
                    }
                    metadata[key] = text
                }
                continue
            }
            func bad(_ reason: String) -> SafetensorsError {
                .badTensorEntry(path: path, tensor: name, reason: reason)
            }
            guard let entry = value as? [String: Any] else { throw bad("entry is not an object") }
            guard let dtypeName = entry["dtype"] as? String else { throw bad("'dtype' is missing or not a string") }
            guard let shape = integers(entry["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw bad("'shape' must be a list of non-negative integers, got \(entry["shape"] ?? "nothing")")
            }
            guard let offsets = integers(entry["data_offsets"]), offsets.count == 2,
                  offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw bad("'data_offsets' must be [begin, end] with 0 <= begin <= end, got \(entry["data_offsets"] ?? "nothing")")
            }
            guard offsets[1] <= dataSize else {
                throw SafetensorsError.truncated(
                    path: path, tensor: name,
                    reason: "its data ends at byte \(offsets[1]) of the data section, which has only \(dataSize) bytes")
            }
            if let dtype = SafetensorsDType(rawValue: dtypeName) {
                let (elements, overflow) = shape.reduce((1, false)) { acc, d in
                    let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                    return (p, acc.1 || o)
                }
                let expectedBytes = elements.multipliedReportingOverflow(by: dtype.byteSize)
                guard !overflow, !expectedBytes.overflow, expectedBytes.partialValue == offsets[1] - offsets[0] else {
                    throw bad("shape \(shape) of \(dtypeName) needs \(elements) x \(dtype.byteSize) bytes, "
                              + "but data_offsets \(offsets) span \(offsets[1] - offsets[0])")
                }
            }
            tensors[name] = SafetensorsTensorInfo(name: name, dtypeName: dtypeName, shape: shape,
                                                  dataOffsets: offsets[0]..<offsets[1])
        }
        return (tensors, metadata, dataStart)
    }

    private static func integers(_ raw: Any?) -> [Int]? {
        guard let list = raw as? [Any] else { return nil }
        var values: [Int] = []
        for item in list {
            guard let n = item as? NSNumber,
                  n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) < 9e15 else { return nil }
            values.append(n.intValue)
        }
        return values
    }
}
